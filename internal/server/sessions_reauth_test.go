package server_test

import (
	"net/url"
	"strings"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestEndOtherSessionsNeedsPassword: signing out all other sessions asks
// for the current password again (ASVS V7.5.2), in the API (403
// reauthentication_required without it, 400 password_incorrect when
// wrong) and in the GUI (a password field; the refusal shown in the
// Sessions section). A refused request signs nothing out; with the
// password the other sessions end. An API token needs it too.
func TestEndOtherSessionsNeedsPassword(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "reauth.sessions@example.com", "Marble-Otter-415"
		other := e.signUp(email, password, "")
		ff := e.loginAs(uaFirefoxWindows, email, password)
		stillIn := func(what string) {
			t.Helper()
			e.want(e.do(other, "GET", "/api/v1/self", nil), 200, "the other session after "+what)
		}

		// API.
		for _, body := range []any{nil, map[string]any{}, map[string]any{"password": ""}} {
			r := e.do(ff, "DELETE", "/api/v1/self/sessions", body)
			e.want(r, 403, "sign out others without the password")
			j := r.JSON(t)
			if j["reauthentication_required"] != true || j["field"] != "password" || !strings.Contains(e.detail(r), "give your current password") {
				t.Errorf("without the password: %s", r.Body)
			}
			stillIn("a refusal without the password")
		}
		r := e.do(ff, "DELETE", "/api/v1/self/sessions", map[string]any{"password": "Not-my-password-1"})
		e.want(r, 400, "sign out others with a wrong password")
		if j := r.JSON(t); j["password_incorrect"] != true || j["field"] != "password" {
			t.Errorf("wrong password: %s", r.Body)
		}
		stillIn("a wrong password")
		// A token needs the password too.
		_, key := e.tokenCreate(ff, "script")
		e.want(e.tok(key, "DELETE", "/api/v1/self/sessions", nil), 403, "a token without the password")
		stillIn("a token's refusal")

		r = e.do(ff, "DELETE", "/api/v1/self/sessions", map[string]any{"password": password})
		e.want(r, 200, "sign out others with the password")
		if n := r.JSON(t)["signed_out"]; n != 1.0 {
			t.Errorf("signed_out = %v, want 1", n)
		}
		e.want(e.do(other, "GET", "/api/v1/self", nil), 401, "the other session after the sign-out")
		e.want(e.do(ff, "GET", "/api/v1/self", nil), 200, "the current session after the sign-out")

		// GUI.
		other = e.loginAs(uaSafariIPhone, email, password)
		page := pageText(t, e.st, ff, "/account")
		if !strings.Contains(page, `id="sessions-password" name="password" type="password"`) {
			t.Fatalf("no password field in the Sessions section:\n%s", firstLine(page, "sessions"))
		}
		for _, tc := range []struct {
			password, want string
		}{
			{"", "give your current password"},
			{"Not-my-password-2", "current password is not correct"},
		} {
			r := postForm(t, e.st, ff, "/account/sessions", url.Values{"others": {"1"}, "password": {tc.password}})
			if r.Status < 400 || r.Status >= 500 || !strings.Contains(string(r.Body), tc.want) {
				t.Errorf("GUI with password %q: %d, want a 4xx saying %q", tc.password, r.Status, tc.want)
			}
			if strings.Contains(string(r.Body), tc.password+`"`) && tc.password != "" {
				t.Errorf("GUI with password %q: the password is echoed into the page", tc.password)
			}
			stillIn("a GUI refusal")
		}
		r = postForm(t, e.st, ff, "/account/sessions", url.Values{"others": {"1"}, "password": {password}})
		if r.Status != 303 {
			t.Errorf("GUI with the password: %d, want 303 to My Account", r.Status)
		}
		if page := pageText(t, e.st, ff, "/account"); !strings.Contains(page, "Signed out 1 other session.") {
			t.Errorf("GUI with the password: no confirmation on My Account")
		}
		e.want(e.do(other, "GET", "/api/v1/self", nil), 401, "the other session after the GUI sign-out")
	})
}
