package server

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// The GUI asks its questions in its own dialogs (a <dialog> opened by a
// button with data-dialog, app.js), never in the browser's: confirm(),
// alert() and prompt() block the page, cannot be styled or tied to what they
// ask about, and some browsers offer to silence them.
var (
	browserDialog = regexp.MustCompile(`\b(?:confirm|alert|prompt)\s*\(|data-confirm\b`)
	dialogOpener  = regexp.MustCompile(`data-dialog="([^"]+)"`)
	dialogID      = regexp.MustCompile(`<dialog\b[^>]*\bid="([^"]+)"`)
)

// webSources returns the templates and scripts of the GUI, by name.
func webSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, src := range []struct {
		fsys    fs.FS
		pattern string
	}{{templateFS, "web/templates/*.html"}, {staticFS, "web/static/*.js"}} {
		files, err := fs.Glob(src.fsys, src.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := fs.ReadFile(src.fsys, f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = string(b)
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d templates and scripts", len(out))
	}
	return out
}

// TestNoBrowserDialogs fails on a template or script that asks in the
// browser's own dialog, and on a button that opens a dialog no template has.
func TestNoBrowserDialogs(t *testing.T) {
	sources := webSources(t)
	dialogs := map[string]bool{}
	for _, s := range sources {
		for _, m := range dialogID.FindAllStringSubmatch(s, -1) {
			dialogs[m[1]] = true
		}
	}
	for name, s := range sources {
		for i, line := range strings.Split(s, "\n") {
			if m := browserDialog.FindString(line); m != "" {
				t.Errorf("%s:%d: %q asks in the browser's dialog; open the product's own (data-dialog): %s", name, i+1, m, strings.TrimSpace(line))
			}
			for _, m := range dialogOpener.FindAllStringSubmatch(line, -1) {
				if !dialogs[m[1]] {
					t.Errorf("%s:%d: opens dialog %q, which no template has", name, i+1, m[1])
				}
			}
		}
	}
}

// TestNoBrowserDialogsRule checks the pattern on what it must find and
// what it must leave alone.
func TestNoBrowserDialogsRule(t *testing.T) {
	for s, found := range map[string]bool{
		`if (!window.confirm(form.dataset.confirm))`:    true,
		`confirm ("Delete?")`:                           true,
		`alert("Saved")`:                                true,
		`<form data-confirm="Delete?">`:                 true,
		`<input name="new_password_confirm">`:           false,
		`<label for="confirm">Confirm Password</label>`: false,
		`data-dialog="delete-token-dialog"`:             false,
	} {
		if got := browserDialog.MatchString(s); got != found {
			t.Errorf("%q: found %v, want %v", s, got, found)
		}
	}
}
