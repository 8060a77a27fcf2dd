package server

import (
	"runtime"
	"strings"
	"testing"
	"text/template/parse"
)

// TestPagesHaveTheTemplatesTheyUse: each page is parsed with only the
// partials it uses (parsePages), so each must still find every template it
// names, through partials that name others too, and a page that calls
// section must hold every My Account section's template. Every page also
// still has the layout and its content.
func TestPagesHaveTheTemplatesTheyUse(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for name, page := range pages {
		if page.Lookup("layout") == nil || page.Lookup("content") == nil {
			t.Errorf("page %s: no layout or no content", name)
		}
		section := false
		for _, d := range page.Templates() {
			if d.Tree == nil {
				continue
			}
			walkTemplate(d.Tree.Root, func(n parse.Node) {
				switch n := n.(type) {
				case *parse.TemplateNode:
					if page.Lookup(n.Name) == nil {
						t.Errorf("page %s: template %q uses %q, which the page does not hold", name, d.Name(), n.Name)
					}
				case *parse.IdentifierNode:
					section = section || n.Ident == "section"
				}
			})
		}
		if !section {
			continue
		}
		for _, sec := range (&server{}).accountSections() {
			if page.Lookup("account-"+sec.name) == nil {
				t.Errorf("page %s calls section but holds no account-%s", name, sec.name)
			}
		}
	}
	// The partials a page does not use are left out: the login page holds
	// no My Account section, the My Account page every one.
	if pages["login"].Lookup("account-info") != nil {
		t.Error("the login page holds the My Account sections")
	}
	if !strings.Contains(pages["account"].DefinedTemplates(), `"account-info"`) {
		t.Error("the My Account page lacks its sections")
	}
}

// TestPagesHeap: all pages parsed hold a few megabytes of the heap, not one
// copy of every partial per page (8.4 MB and 142,000 objects when each page
// held all 16 partials). The garbage collector marks them at every
// collection, which a password hash's 19 MiB triggers about every third
// hash. Allocation is deterministic, so the bound is not a timing.
func TestPagesHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	objects := after.HeapObjects - before.HeapObjects
	t.Logf("%d pages: %.1f MB, %d objects", len(pages), float64(after.HeapAlloc-before.HeapAlloc)/1e6, objects)
	if objects > 70_000 {
		t.Errorf("the parsed pages hold %d objects of the heap, want at most 70,000", objects)
	}
	runtime.KeepAlive(pages)
}
