package portal

import (
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// readDoc returns a document of the repository with its runs of white
// space (line breaks included) made single spaces, so that a phrase is found
// wherever the text wraps.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// TestREADMEStatesLimits: the README states the rules of each input and the
// session timeouts with the numbers the code uses (ASVS V2.1.1, V7.1.1), so
// that changing a limit without its documentation fails.
func TestREADMEStatesLimits(t *testing.T) {
	readme := readDoc(t, "README.md")
	if MaxOrgNameLen != MaxNameLen || MaxSiteNameLen != MaxNameLen {
		t.Errorf("the README gives one length for every name; now names %d, organizations %d, sites %d", MaxNameLen, MaxOrgNameLen, MaxSiteNameLen)
	}
	for _, phrase := range []string{
		fmt.Sprintf("Names (first, last, organization, site) are 1–%d characters", MaxNameLen),
		fmt.Sprintf("email addresses at most %d", MaxEmailLen),
		fmt.Sprintf("passwords %d–%d characters", MinPasswordLen, MaxPasswordLen),
		fmt.Sprintf("minimum length (%d–%d)", MinPasswordLen, MaxPasswordLen),
		fmt.Sprintf("no reuse of the last N passwords (at most %d)", MaxPolicyHistoryCount),
		fmt.Sprintf("(default %d minutes)", DefaultSessionExpiry),
		fmt.Sprintf("(ours: %d–%d days, default %d,", MinSessionMaxLifetime, MaxSessionMaxLifetime, DefaultSessionMaxLifetime),
		fmt.Sprintf("Session cookies are kept %d days", MaxSessionMaxLifetime),
		fmt.Sprintf("changes the password only within %d minutes of logging in", PrivilegedSessionMinutes),
	} {
		if !strings.Contains(readme, phrase) {
			t.Errorf("README.md does not say %q", phrase)
		}
	}
}

// cryptoImport reports whether an import path is cryptography that the
// inventory in SECURITY.md must list.
func cryptoImport(im string) bool {
	for _, p := range []string{"crypto/", "golang.org/x/crypto/", "github.com/pquerna/otp", "github.com/coreos/go-oidc", "github.com/go-jose/"} {
		if strings.HasPrefix(im, p) {
			return true
		}
	}
	return false
}

// TestCryptoInventory: SECURITY.md's inventory of cryptography (ASVS
// V11.1.2) names every cryptographic package the binary imports.
func TestCryptoInventory(t *testing.T) {
	const heading = "## Cryptography"
	section := docSection(t, heading)
	used := map[string]bool{}
	for _, pkg := range binaryPackages(t, modulePackages(t)) {
		for im := range pkg.imports {
			if cryptoImport(im) {
				used[im] = true
			}
		}
	}
	if len(used) < 4 {
		t.Fatalf("found only %d cryptographic imports: %v", len(used), used)
	}
	for im := range used {
		if !strings.Contains(section, "`"+im+"`") {
			t.Errorf("%s's %q section does not list `%s`, which the binary imports", securityDoc, heading, im)
		}
	}
}

// docSection returns a section of SECURITY.md (white space made single).
func docSection(t *testing.T, heading string) string {
	t.Helper()
	doc := readDoc(t, securityDoc)
	i := strings.Index(doc, heading+" ")
	if i < 0 {
		t.Fatalf("%s has no section %q", securityDoc, heading)
	}
	section := doc[i+len(heading):]
	if j := strings.Index(section, " ## "); j >= 0 {
		section = section[:j]
	}
	return section
}

// TestWaysInDocumented: SECURITY.md's list of the ways into an account
// (ASVS V6.1.3) names every service method that opens a session (those
// that return a *LoginResult) and the one that authenticates a request
// (Authenticate), so that a new way in cannot be added without saying so.
func TestWaysInDocumented(t *testing.T) {
	section := docSection(t, "## Ways in")
	app := modulePackages(t)["portal/internal/app"]
	if app == nil {
		t.Fatal("no package internal/app")
	}
	ways := []string{"Authenticate"}
	for _, f := range app.files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			for _, res := range fn.Type.Results.List {
				if star, ok := res.Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok && id.Name == "LoginResult" {
						ways = append(ways, fn.Name.Name)
					}
				}
			}
		}
	}
	if len(ways) < 4 {
		t.Fatalf("found only %v: does the test still find the methods that open a session?", ways)
	}
	for _, w := range ways {
		if !strings.Contains(section, "`"+w+"`") {
			t.Errorf("%s's ways in do not name `%s`, which opens a session or authenticates a request", securityDoc, w)
		}
	}
}

// schemaTables returns the tables the migrations leave (their Up parts,
// in order: CREATE TABLE, ALTER TABLE … RENAME TO, DROP TABLE).
func schemaTables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("internal/store/migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations (%v)", err)
	}
	sort.Strings(files)
	create := regexp.MustCompile(`(?i)^\s*CREATE TABLE (?:IF NOT EXISTS )?(\w+)`)
	rename := regexp.MustCompile(`(?i)^\s*ALTER TABLE (\w+) RENAME TO (\w+)`)
	drop := regexp.MustCompile(`(?i)^\s*DROP TABLE (?:IF EXISTS )?(\w+)`)
	tables := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		up := false
		for _, l := range strings.Split(string(b), "\n") {
			switch strings.TrimSpace(l) {
			case "-- +goose Up":
				up = true
				continue
			case "-- +goose Down":
				up = false
				continue
			}
			if !up {
				continue
			}
			if m := create.FindStringSubmatch(l); m != nil {
				tables[strings.ToLower(m[1])] = true
			} else if m := rename.FindStringSubmatch(l); m != nil {
				delete(tables, strings.ToLower(m[1]))
				tables[strings.ToLower(m[2])] = true
			} else if m := drop.FindStringSubmatch(l); m != nil {
				delete(tables, strings.ToLower(m[1]))
			}
		}
	}
	return tables
}

// TestDataClassified: SECURITY.md's "Data" section (ASVS V14.1.1, V14.1.2)
// gives every table of the schema its kind, protection and retention, so a
// new table cannot hold data nobody has classified.
func TestDataClassified(t *testing.T) {
	section := docSection(t, "## Data")
	tables := schemaTables(t)
	if len(tables) < 15 {
		t.Fatalf("found only %d tables in the migrations: %v", len(tables), tables)
	}
	for name := range tables {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("%s's Data section does not classify the table `%s`", securityDoc, name)
		}
	}
}
