package portal

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The ASVS table in SECURITY.md: one row per requirement of the checklist,
// with its status and the tests (or CI steps) that prove it.
const (
	securityDoc      = "SECURITY.md"
	asvsIDsFile      = "testdata/asvs-l2-ids.txt"
	asvsChecklist    = "../shared/security/asvs-l2.md" // beside the checkout, when there
	ciScript         = ".ci/run"
	asvsTableHeader  = "| ID | level | requirement | status | proof |"
	deviationHeading = "## Deliberate deviations"
)

var asvsStatuses = []string{"tested", "deviation", "not applicable", "missing"}

type asvsRow struct {
	line                       int
	id, level, text, status    string
	proof                      string
	tests, ciSteps, backticked []string
}

var (
	asvsIDPattern   = regexp.MustCompile(`^V\d+\.\d+\.\d+$`)
	backtickPattern = regexp.MustCompile("`([^`]+)`")
	testNamePattern = regexp.MustCompile(`^(Test|Fuzz)[A-Za-z0-9_]*$`)
	checklistRow    = regexp.MustCompile(`^\| (V\d+\.\d+\.\d+) \| (\d) \|`)
	issuePattern    = regexp.MustCompile(`issue \d+`)
)

// TestSecurityTable keeps SECURITY.md's ASVS table true: every requirement
// of the checklist has exactly one row with its level, an allowed status
// and something that backs it; every test function it names exists in a
// _test.go file of the repository and every CI step it names is in .ci/run;
// each deviation is explained in the deviations section; and the counts
// stated above the table are the table's.
func TestSecurityTable(t *testing.T) {
	doc, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	rows := parseASVSTable(t, string(doc))
	ids := readASVSIDs(t)

	// The checklist beside the checkout, when there, is what the list copies.
	if b, err := os.ReadFile(asvsChecklist); err == nil {
		var fromChecklist [][2]string
		for _, l := range strings.Split(string(b), "\n") {
			if m := checklistRow.FindStringSubmatch(l); m != nil {
				fromChecklist = append(fromChecklist, [2]string{m[1], m[2]})
			}
		}
		if !slices.Equal(fromChecklist, ids) {
			t.Errorf("%s differs from %s (%d and %d requirements): regenerate it from the checklist", asvsIDsFile, asvsChecklist, len(ids), len(fromChecklist))
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}

	level := map[string]string{}
	for _, id := range ids {
		level[id[0]] = id[1]
	}
	seen := map[string]int{}
	for _, r := range rows {
		if prev, ok := seen[r.id]; ok {
			t.Errorf("%s:%d: %s is also on line %d", securityDoc, r.line, r.id, prev)
			continue
		}
		seen[r.id] = r.line
		l, ok := level[r.id]
		switch {
		case !ok:
			t.Errorf("%s:%d: %s is not a requirement of the checklist (%s)", securityDoc, r.line, r.id, asvsIDsFile)
		case l != r.level:
			t.Errorf("%s:%d: %s is level %s, the table says %q", securityDoc, r.line, r.id, l, r.level)
		}
	}
	for _, id := range ids {
		if _, ok := seen[id[0]]; !ok {
			t.Errorf("%s: no row for %s", securityDoc, id[0])
		}
	}

	tests := repoTestFunctions(t)
	ci, err := os.ReadFile(ciScript)
	if err != nil {
		t.Fatal(err)
	}
	deviations := deviationSection(string(doc))
	count := map[string]int{}
	for _, r := range rows {
		where := securityDoc + ":" + strconv.Itoa(r.line) + ": " + r.id
		if !slices.Contains(asvsStatuses, r.status) {
			t.Errorf("%s: status %q is not one of %q", where, r.status, asvsStatuses)
			continue
		}
		count[r.status]++
		if strings.TrimSpace(r.text) == "" {
			t.Errorf("%s: no requirement text", where)
		}
		for _, name := range r.tests {
			if !tests[name] {
				t.Errorf("%s: names %s, which is no test function of the repository", where, name)
			}
		}
		for _, step := range r.ciSteps {
			if !strings.Contains(string(ci), step) {
				t.Errorf("%s: names the CI step %q, which %s does not run", where, step, ciScript)
			}
		}
		switch r.status {
		case "tested":
			if len(r.tests)+len(r.ciSteps) == 0 {
				t.Errorf("%s: tested, but names no test function and no `ci: <step>`", where)
			}
		case "missing":
			if !issuePattern.MatchString(r.proof) && len(strings.Fields(r.proof)) < 4 {
				t.Errorf("%s: missing, with neither the issue that brings it (\"issue N\") nor a reason: %q", where, r.proof)
			}
		case "deviation":
			if !strings.Contains(deviations, r.id) {
				t.Errorf("%s: a deviation that the section %q does not explain", where, deviationHeading)
			}
			fallthrough
		default:
			if len(strings.Fields(r.proof)) < 3 {
				t.Errorf("%s: %s without a reason: %q", where, r.status, r.proof)
			}
		}
	}

	// The summary above the table: "N of T applicable requirements are
	// tested; … D deviation, A not applicable, M missing".
	summary := string(doc)[:strings.Index(string(doc), asvsTableHeader)]
	m := regexp.MustCompile(`(\d+) of (\d+) applicable requirements are tested`).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("%s: no summary \"N of T applicable requirements are tested\"", securityDoc)
	}
	if m[1] != strconv.Itoa(count["tested"]) || m[2] != strconv.Itoa(len(ids)) {
		t.Errorf("%s says %s of %s are tested; the table has %d of %d", securityDoc, m[1], m[2], count["tested"], len(ids))
	}
	for _, st := range asvsStatuses[1:] {
		m := regexp.MustCompile(`(\d+) ` + st + `\b`).FindStringSubmatch(summary)
		if m == nil {
			t.Errorf("%s: the summary does not say how many are %q (\"N %s\")", securityDoc, st, st)
		} else if m[1] != strconv.Itoa(count[st]) {
			t.Errorf("%s says %s %s; the table has %d", securityDoc, m[1], st, count[st])
		}
	}
}

// parseASVSTable reads the rows of the table under asvsTableHeader.
func parseASVSTable(t *testing.T, doc string) []asvsRow {
	t.Helper()
	lines := strings.Split(doc, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == asvsTableHeader })
	if start < 0 {
		t.Fatalf("%s: no table with the header %q", securityDoc, asvsTableHeader)
	}
	var rows []asvsRow
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := splitRow(lines[i])
		if len(cells) != 5 {
			t.Errorf("%s:%d: %d cells, want 5: %q", securityDoc, i+1, len(cells), lines[i])
			continue
		}
		r := asvsRow{line: i + 1, id: cells[0], level: cells[1], text: cells[2], status: cells[3], proof: cells[4]}
		if !asvsIDPattern.MatchString(r.id) {
			t.Errorf("%s:%d: %q is not a requirement ID", securityDoc, r.line, r.id)
			continue
		}
		for _, m := range backtickPattern.FindAllStringSubmatch(r.proof, -1) {
			s := m[1]
			switch {
			case testNamePattern.MatchString(s):
				r.tests = append(r.tests, s)
			case strings.HasPrefix(s, "ci: "):
				r.ciSteps = append(r.ciSteps, strings.TrimPrefix(s, "ci: "))
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: the table under %q has no rows", securityDoc, asvsTableHeader)
	}
	return rows
}

// splitRow splits a Markdown table row into its trimmed cells; a `|` inside
// backticks or escaped as `\|` does not end a cell.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
			continue
		case c == '`':
			code = !code
		case c == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// readASVSIDs reads the repository's list of the checklist's requirements.
func readASVSIDs(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open(asvsIDsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids [][2]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) != 2 || !asvsIDPattern.MatchString(fields[0]) || (fields[1] != "1" && fields[1] != "2") {
			t.Fatalf("%s:%d: want \"<ID> <level 1 or 2>\", got %q", asvsIDsFile, n, l)
		}
		ids = append(ids, [2]string{fields[0], fields[1]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 {
		t.Fatalf("%s: no requirements", asvsIDsFile)
	}
	return ids
}

// repoTestFunctions finds the test and fuzz functions declared in the
// repository's _test.go files.
func repoTestFunctions(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "." && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && testNamePattern.MatchString(fn.Name.Name) {
				names[fn.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 100 {
		t.Fatalf("found only %d test functions: is the test running at the repository's root?", len(names))
	}
	return names
}

// deviationSection is the text of the deviations section of SECURITY.md.
func deviationSection(doc string) string {
	i := strings.Index(doc, deviationHeading)
	if i < 0 {
		return ""
	}
	rest := doc[i+len(deviationHeading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
