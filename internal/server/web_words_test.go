package server

import (
	"io/fs"
	"path"
	"regexp"
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
