package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The product's labels hold one style, the seed's ("Change Email", "New
// Password", "24-Hour Time", "Sign In With Google"): title case, and
// "Email", never "E-mail", for the address.

// labelPatterns find the labels of a template: form labels (a field's and
// a checkbox's), table headings, legends, the terms of a definition list,
// the labels of a table cell on a phone (data-label) and card headings.
var labelPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?s)<label\b[^>]*>(.*?)</label>`),
	regexp.MustCompile(`(?s)<th\b[^>]*>(.*?)</th>`),
	regexp.MustCompile(`(?s)<legend\b[^>]*>(.*?)</legend>`),
	regexp.MustCompile(`(?s)<dt\b[^>]*>(.*?)</dt>`),
	regexp.MustCompile(`(?s)<h2\b[^>]*>(.*?)</h2>`),
	regexp.MustCompile(`data-label="([^"]*)"`),
}

var (
	labelTag    = regexp.MustCompile(`(?s)<span class="(?:optional|count|sr-only)">.*?</span>|<[^>]*>`)
	labelParens = regexp.MustCompile(`\([^)]*\)`)
)

// productLabels returns the labels of every template, each as
// "file: label". A label ends where the template inserts data ({{…}}); what
// is in parentheses (a unit, "optional") is left out.
func productLabels(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(templateFS, "web/templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range labelPatterns {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				s := labelTag.ReplaceAllString(m[1], " ")
				if i := strings.Index(s, "{{"); i >= 0 {
					s = s[:i]
				}
				s = strings.Join(strings.Fields(labelParens.ReplaceAllString(s, " ")), " ")
				s = strings.TrimRight(s, " :")
				if s != "" {
					labels = append(labels, path.Base(f)+": "+s)
				}
			}
		}
	}
	return labels
}

// minorWords stay in lower case inside a title-case label.
var minorWords = map[string]bool{"a": true, "an": true, "the": true, "and": true, "or": true, "of": true, "to": true, "in": true, "on": true, "at": true, "by": true, "for": true}

// labelStyle says what is wrong with a label's style, or "".
func labelStyle(label string) string {
	if strings.Contains(strings.ToLower(label), "e-mail") {
		return `"E-mail": write "Email"`
	}
	for i, w := range strings.Fields(label) {
		for _, part := range strings.Split(w, "-") { // "Two-Factor", "24-Hour"
			r := []rune(strings.Trim(part, ",.?!'\""))
			if len(r) == 0 || !unicode.IsLetter(r[0]) {
				continue
			}
			if i > 0 && minorWords[string(r)] {
				continue
			}
			if unicode.IsLower(r[0]) {
				return "not in title case (" + string(r) + ")"
			}
		}
	}
	return ""
}

// TestLabelStyle lists the product's labels from the templates and fails
// on any that breaks the one style.
func TestLabelStyle(t *testing.T) {
	labels := productLabels(t)
	if len(labels) < 50 {
		t.Fatalf("found only %d labels in the templates; the patterns no longer match them: %q", len(labels), labels)
	}
	for _, l := range labels {
		if why := labelStyle(l[strings.Index(l, ": ")+2:]); why != "" {
			t.Errorf("%s: %s", l, why)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("the product's labels:\n%s", strings.Join(labels, "\n"))
	}
}

// TestLabelStyleRules checks the rule itself on labels of each kind.
func TestLabelStyleRules(t *testing.T) {
	for label, ok := range map[string]bool{
		"Change Email": true, "New Password": true, "24-Hour Time": true, "Sign In With Google": true,
		"Enable Two Factor Authentication": true, "Kinds of Characters": true, "MAC Address Format": true,
		"E-mail": false, "New e-mail address": false, "First name": false, "Two-factor Code": false, "Confirm new password": false,
	} {
		if got := labelStyle(label) == ""; got != ok {
			t.Errorf("labelStyle(%q) = %q; want ok=%v", label, labelStyle(label), ok)
		}
	}
}

// eMail finds the spelling the product does not use: "E-mail"/"e-mail"
// (also "e-mailed"). The seed writes "Email" ("Change Email", "Email
// Notification") and "email" inside a sentence.
var eMail = regexp.MustCompile(`(?i)\be-mail`)

// goTextDirs are the packages whose Go string literals a user or an
// operator reads, each with the fewest non-test files it has (so that a
// moved package fails the scan instead of passing it empty): the service
// layer (errors, audit entries, limits' messages), this package (pages'
// titles, confirmations, API details), the configuration's help texts and
// errors, the OpenID sign-in's refusals (shown as the API's detail) and
// cmd/portal's help and output.
var goTextDirs = map[string]int{
	filepath.Join("..", "app"):       10,
	".":                              10,
	filepath.Join("..", "config"):    1,
	filepath.Join("..", "oidclogin"): 1,
	filepath.Join("..", "..", "cmd", "portal"): 2,
}

// userTexts returns, by place, the texts a user reads: every template of
// the GUI and of the mail, the GUI's scripts, and the string literals of
// the packages of goTextDirs. Go comments are left out.
func userTexts(t *testing.T) map[string]string {
	t.Helper()
	out := webSources(t) // templates and scripts of the GUI
	mails, err := filepath.Glob(filepath.Join("..", "mail", "templates", "*"))
	if err != nil || len(mails) < 10 {
		t.Fatalf("mail templates: %d, %v", len(mails), err)
	}
	for _, f := range mails {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	for dir, least := range goTextDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		scanned := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			scanned++
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						out[fset.Position(lit.Pos()).String()] = s
					}
				}
				return true
			})
		}
		if scanned < least {
			t.Fatalf("Go files of %s: %d, want at least %d", dir, scanned, least)
		}
	}
	return out
}

// TestEmailSpelling fails on "E-mail" or "e-mail" anywhere a user reads
// it: labels, dialog titles, sentences, mails and the service's messages.
func TestEmailSpelling(t *testing.T) {
	texts := userTexts(t)
	if len(texts) < 500 {
		t.Fatalf("found only %d texts", len(texts))
	}
	for place, s := range texts {
		for i, line := range strings.Split(s, "\n") {
			if eMail.MatchString(line) {
				t.Errorf("%s (line %d): %q: write \"Email\" or \"email\"", place, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestEmailSpellingRule checks the pattern on what it must find and what
// it must leave alone.
func TestEmailSpellingRule(t *testing.T) {
	for s, found := range map[string]bool{
		"E-mail address restored": true, "Check your e-mail": true, "links e-mailed to you": true, "E-MAIL": true,
		"Change Email": false, "your email address": false, "re-mail the invitation": false, "e_mail": false,
	} {
		if got := eMail.MatchString(s); got != found {
			t.Errorf("%q: found %v, want %v", s, got, found)
		}
	}
}
