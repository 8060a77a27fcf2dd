package server

import (
	"io/fs"
	"path"
	"strings"
	"testing"
)

// TestAccountSectionsHaveTemplates: a My Account section is its template,
// web/templates/_account_<name>.html defining "account-<name>", and its
// entry in accountSections with its title; neither goes without the other.
func TestAccountSectionsHaveTemplates(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, sec := range (&server{}).accountSections() {
		registered[sec.name] = true
		if sec.title == "" {
			t.Errorf("section %q: no title (the section navigation lists the sections by their titles)", sec.name)
		}
		if _, err := fs.Stat(templateFS, "web/templates/_account_"+sec.name+".html"); err != nil {
			t.Errorf("section %q: no template _account_%s.html", sec.name, sec.name)
		}
		if pages["account"].Lookup("account-"+sec.name) == nil {
			t.Errorf("section %q: no template defines account-%s", sec.name, sec.name)
		}
	}
	files, err := fs.Glob(templateFS, "web/templates/_account_*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(path.Base(f), "_account_"), ".html")
		if !registered[name] {
			t.Errorf("%s: no section %q in accountSections", f, name)
		}
	}
	if len(registered) < 7 {
		t.Errorf("%d sections registered", len(registered))
	}
}
