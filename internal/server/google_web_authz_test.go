package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/oidclogin"
	"portal/internal/oidctest"
	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestGoogleWebRoutesEveryCaller is the role × route table's companion for
// the GUI's routes of Sign in with Google (routes.go), which the API table
// does not reach: each called by every kind of caller of the table
// (principals), with a session cookie and with an API token (which a page
// never takes), on a Portal with Google on. Starting a sign-in is open to
// all and leads to the provider; a callback whose flow this browser did
// not start is refused on the login page, for all; linking leads a
// signed-in session, whatever its roles, to the provider, and anyone else
// to the login page.
func TestGoogleWebRoutesEveryCaller(t *testing.T) {
	// The routes called below: a new page route of Google's fails here
	// until it is added.
	tested := map[string]bool{"POST /login/google": true, "GET /oauth/google/callback": true, "POST /account/social/link": true}
	n := 0
	for _, p := range server.RoutePatterns() {
		if (strings.Contains(p, "google") || strings.Contains(p, "/social")) && !strings.Contains(p, "/api/") {
			n++
			if !tested[p] {
				t.Errorf("route %s of Sign in with Google is not called by TestGoogleWebRoutesEveryCaller: add it", p)
			}
		}
	}
	if n != len(tested) {
		t.Fatalf("%d page routes of Sign in with Google registered, want the %d tested", n, len(tested))
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		google := oidctest.StartMinting(t, "portal-authz-web")
		st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Google: func(redirect string) oidclogin.Config {
			return oidclogin.Config{ClientID: google.ClientID, ClientSecret: "secret", Issuer: google.Issuer, RedirectURL: redirect}
		}})
		noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		toProvider := func(loc string) bool { return strings.HasPrefix(loc, google.Issuer+"/authorize?") }
		toLogin := func(loc string) bool { return loc == "/login?next="+url.QueryEscape("/") }
		for _, p := range principals() {
			for _, token := range []bool{false, true} {
				// Each start is counted per client address (limitGoogleStart).
				st.Clock.Advance(time.Hour)
				f := newFixture(t, st, p)
				auth := "session"
				hdr := map[string]string{}
				signedIn := false
				switch {
				case token && f.apiKey != "":
					auth, hdr["Authorization"] = "API token", "Token "+f.apiKey
				case token:
					auth, hdr["Authorization"] = "API token", "Token no-such-key"
				case f.sessionToken != "":
					hdr["Cookie"] = "sessionid=" + f.sessionToken + "; csrftoken=" + f.csrf
					signedIn = p.scope != "deleted"
				}
				send := func(method, path string, form url.Values) (int, string, string) {
					t.Helper()
					h := map[string]string{}
					for k, v := range hdr {
						h[k] = v
					}
					var body *strings.Reader
					if form != nil {
						form.Set("csrf_token", f.csrf)
						body = strings.NewReader(form.Encode())
						h["Content-Type"] = "application/x-www-form-urlencoded"
					} else {
						body = strings.NewReader("")
					}
					r := sendRaw(t, st, noRedirect, method, path, body, form != nil, h)
					return r.Status, r.Header.Get("Location"), string(r.Body)
				}
				what := func(route string) string { return route + " as " + p.name + " (" + auth + ")" }

				if status, loc, body := send("POST", "/login/google", url.Values{}); status != http.StatusSeeOther || !toProvider(loc) {
					t.Errorf("%s: %d to %q, want 303 to the provider: %.300s", what("POST /login/google"), status, loc, body)
				}
				status, _, body := send("GET", "/oauth/google/callback?code=any-code&state=not-a-state-of-this-browser", nil)
				if status != http.StatusBadRequest || !strings.Contains(body, "unknown, expired or already used") {
					t.Errorf("%s: %d, want 400 on the login page saying the sign-in is unknown: %.300s", what("GET /oauth/google/callback"), status, body)
				}
				status, loc, body := send("POST", "/account/social/link", url.Values{})
				if signedIn && (status != http.StatusSeeOther || !toProvider(loc)) {
					t.Errorf("%s: %d to %q, want 303 to the provider: %.300s", what("POST /account/social/link"), status, loc, body)
				}
				if !signedIn && (status != http.StatusSeeOther || !toLogin(loc)) {
					t.Errorf("%s: %d to %q, want 303 to the login page: %.300s", what("POST /account/social/link"), status, loc, body)
				}
			}
		}
	})
}
