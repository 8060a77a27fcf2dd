package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/server"
	"portal/internal/store"
)

// TestRestrictedSessionsEveryRoute: each route behind authentication, as
// registered in routes.go, refuses every kind of restricted session it is
// not declared open to (open(…), restrict.go), with that restriction's
// refusal, and lets through those it is declared open to. The routes'
// handlers are stand-ins (server.RestrictionProbe): what is checked is
// the gate in front of them, for real sessions of each kind. Sign in with
// Google is on, so that its routes (linking, unlinking) are among them: a
// session owing its second factor must not link a Google account that
// would then sign in without it.
func TestRestrictedSessionsEveryRoute(t *testing.T) {
	e := newGoogleEnv(t, mistspec.Load(t), store.SQLite).apiEnv
	h, routes, err := server.RestrictionProbe(e.st.Service)
	if err != nil {
		t.Fatal(err)
	}
	probe := httptest.NewServer(h)
	defer probe.Close()
	for _, want := range []string{"GET /api/v1/self/oauth/google", "POST /api/v1/self/oauth/google", "DELETE /api/v1/login/oauth/google", "POST /account/social/link"} {
		found := false
		for _, r := range routes {
			found = found || r.Pattern == want
		}
		if !found {
			t.Errorf("%s is not among the routes probed: Sign in with Google is off?", want)
		}
	}
	const pw = "correct horse 1"

	// An expired password: Carol's organization expires passwords after
	// 30 days; her API token is from before.
	carol := e.signUp("carol@example.com", pw, "Carol Org")
	e.want(e.setPolicy(carol, e.firstOrg(carol), map[string]any{"enabled": true, "expiry_in_days": 30}), 200, "expiry policy")
	_, carolKey := e.tokenCreate(carol, "script")
	e.st.Clock.Advance(30 * 24 * time.Hour)
	expired, r := e.login("carol@example.com", pw)
	e.want(r, 200, "login with an expired password")

	// Enrolment due: Dave's organization requires two-factor
	// authentication with no grace period; his API token is from before.
	dave := e.signUp("dave@example.com", pw, "Dave Org")
	_, daveKey := e.tokenCreate(dave, "script")
	e.want(e.setPolicy(dave, e.firstOrg(dave), map[string]any{"enabled": true, "requires_two_factor_auth": true, "two_factor_grace_days": 0}), 200, "require 2FA")

	// The second factor owed: Ann has two-factor authentication and logs
	// in with her password only.
	ann := e.signUp("ann@example.com", twoFactorTestPassword, "Acme")
	e.activate(ann)
	pending := e.pendingLogin("ann@example.com")

	// Password only: Bob followed a recovery link without a password.
	e.signUp("bob@example.com", pw, "Bob Org")
	e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": "bob@example.com"}), 200, "recover")
	recovery := e.st.Client()
	e.want(e.do(recovery, "POST", "/api/v1/recover/verify/"+e.recoverToken("bob@example.com", 1), nil), 200, "recovery session")

	// Unrestricted, to show that every refusal below is the restriction's.
	erin := e.signUp("erin@example.com", pw, "Erin Org")
	_, erinKey := e.tokenCreate(erin, "script")

	type caller struct {
		name     string
		session  *http.Client // or
		key      string       // an API token (API routes only)
		open     func(server.RestrictedRoute) bool
		apiField string // the refusal on the API: status and the field set to true
		apiCode  int
		location string // the refusal in the GUI: a 303 to this address (prefix)
	}
	callers := []caller{
		{name: "second factor owed", session: pending, open: func(r server.RestrictedRoute) bool { return r.OpenWhenPending },
			apiCode: 401, apiField: "two_factor_required", location: "/login/two_factor?next="},
		{name: "recovery session", session: recovery, open: func(r server.RestrictedRoute) bool { return r.OpenWhenRestricted },
			apiCode: 403, apiField: "password_only", location: "/account#password"},
		{name: "expired password", session: expired, open: func(r server.RestrictedRoute) bool { return r.OpenWhenRestricted },
			apiCode: 403, apiField: "password_expired", location: "/account#password"},
		{name: "expired password, API token", key: carolKey, open: func(r server.RestrictedRoute) bool { return r.OpenWhenRestricted },
			apiCode: 403, apiField: "password_expired"},
		{name: "enrolment due", session: dave, open: func(r server.RestrictedRoute) bool { return r.OpenWhenEnrolDue },
			apiCode: 403, apiField: "two_factor_enrolment_required", location: "/account#authentication"},
		{name: "enrolment due, API token", key: daveKey, open: func(r server.RestrictedRoute) bool { return r.OpenWhenEnrolDue },
			apiCode: 403, apiField: "two_factor_enrolment_required"},
		{name: "unrestricted", session: erin, open: func(server.RestrictedRoute) bool { return true }},
		{name: "unrestricted, API token", key: erinKey, open: func(server.RestrictedRoute) bool { return true }},
	}

	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	wildcard := regexp.MustCompile(`\{[^}]*\}`)
	var apiRoutes, pages int
	declared := map[string]server.RestrictedRoute{}
	for _, rt := range routes {
		declared[rt.Pattern] = rt
		if rt.API {
			apiRoutes++
		} else {
			pages++
		}
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			var opened []string
			for _, rt := range routes {
				if c.key != "" && !rt.API {
					continue // a token never opens a page
				}
				method, path, _ := strings.Cut(rt.Pattern, " ")
				path = wildcard.ReplaceAllStringFunc(path, func(w string) string {
					if w == "{$}" {
						return ""
					}
					return "00000000-0000-4000-8000-000000000000"
				})
				var body io.Reader
				if method != http.MethodGet {
					body = strings.NewReader("")
				}
				req, err := http.NewRequest(method, probe.URL+path, body)
				if err != nil {
					t.Fatal(err)
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if c.key != "" {
					req.Header.Set("Authorization", "Token "+c.key)
				} else {
					req.AddCookie(&http.Cookie{Name: "sessionid", Value: e.cookie(c.session, "sessionid")})
					req.Header.Set("X-CSRFToken", e.cookie(c.session, "csrftoken"))
				}
				res, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				reached := res.StatusCode == server.ProbeReached
				if c.open(rt) {
					if !reached {
						t.Errorf("%s is declared open to it, but: %d %s %s", rt.Pattern, res.StatusCode, res.Header.Get("Location"), b)
					}
					opened = append(opened, rt.Pattern)
					continue
				}
				switch {
				case reached:
					t.Errorf("%s is not declared open to it, but let it through", rt.Pattern)
				case rt.API:
					var m map[string]any
					_ = json.Unmarshal(b, &m)
					if res.StatusCode != c.apiCode || m[c.apiField] != true {
						t.Errorf("%s: %d %s; want %d with %q: true", rt.Pattern, res.StatusCode, b, c.apiCode, c.apiField)
					}
				default:
					if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, c.location) {
						t.Errorf("%s: %d to %q; want 303 to %s…", rt.Pattern, res.StatusCode, loc, c.location)
					}
				}
			}
			if c.apiCode != 0 {
				t.Logf("open: %s", strings.Join(opened, ", "))
			}
		})
	}

	// The probe sees the routes of routes.go, and their declarations.
	if apiRoutes < 40 || pages < 30 {
		t.Errorf("the probe saw %d API routes and %d pages behind authentication; routes.go has more", apiRoutes, pages)
	}
	for pattern, want := range map[string][3]bool{
		"GET /api/v1/self":              {true, true, true},
		"POST /logout":                  {true, true, true},
		"POST /account/password":        {false, true, true},
		"POST /account/authentication":  {false, false, true},
		"POST /account/{section}":       {false, false, false},
		"GET /api/v1/orgs/{org_id}":     {false, false, false},
		"POST /api/v1/login/two_factor": {true, false, false},
	} {
		rt, ok := declared[pattern]
		if got := [3]bool{rt.OpenWhenPending, rt.OpenWhenRestricted, rt.OpenWhenEnrolDue}; !ok || got != want {
			t.Errorf("%s: open when pending, restricted, enrolment due = %v (registered: %v); want %v", pattern, got, ok, want)
		}
	}
}
