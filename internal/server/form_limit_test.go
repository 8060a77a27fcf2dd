package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestGUIFormTooLarge: a GUI form over the 1 MiB body cap answers 413 with
// a page that says so, signed in or not, rather than a 403 "page out of
// date" (the CSRF field was never read) or a misleading form error. A
// browser's same-origin headers do not change that.
func TestGUIFormTooLarge(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		ann := st.SignUp(t, "ann@example.com", "correct horse 1", "Acme")
		csrf := csrfInput.FindStringSubmatch(pageText(t, st, ann, "/account"))
		if csrf == nil {
			t.Fatal("no csrf_token on /account")
		}
		big := strings.Repeat("a", 2<<20)
		browser := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": st.URL, "Sec-Fetch-Site": "same-origin"}
		for _, tc := range []struct {
			name string
			c    *http.Client
			path string
			form url.Values
		}{
			{"signed in, My Account", ann, "/account/info", url.Values{"csrf_token": {csrf[1]}, "first_name": {big}, "last_name": {"B"}}},
			{"signed in, CSRF token last", ann, "/orgs", url.Values{"name": {big}, "zz": {"x"}}},
			{"signed out, sign-up", st.Client(), "/signup", url.Values{"email": {"bob@example.com"}, "first_name": {big}}},
			{"signed out, login", st.Client(), "/login", url.Values{"email": {"ann@example.com"}, "password": {big}}},
			{"signed out, a signed-in form", st.Client(), "/orgs", url.Values{"name": {big}}},
		} {
			body := tc.form.Encode()
			if tc.name == "signed in, CSRF token last" {
				body += "&csrf_token=" + url.QueryEscape(csrf[1])
			}
			r := sendRaw(t, st, tc.c, "POST", tc.path, strings.NewReader(body), true, browser)
			page := string(r.Body)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: POST %s: status %d, want 413: %s", tc.name, tc.path, r.Status, firstLine(page, "rror"))
				continue
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "The form is too large: at most 1 MiB") {
				t.Errorf("%s: POST %s: the page does not say the form is too large:\n%s", tc.name, tc.path, firstLine(page, "flash"))
			}
		}
		// Nothing was saved, and the session still works.
		if page := pageText(t, st, ann, "/account"); strings.Contains(page, "aaaaaaaa") {
			t.Error("the oversized name was saved")
		}
	})
}
