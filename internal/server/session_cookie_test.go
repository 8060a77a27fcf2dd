package server_test

import (
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestSessionCookieLife: the session cookies last as long as the longest
// session (portal.MaxSessionMaxLifetime days); the server decides when a session ends. A login that
// owes its second factor keeps working once the code is given.
func TestSessionCookieLife(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, "")
		checkCookies := func(r testenv.Response, what string) {
			t.Helper()
			found := 0
			for _, c := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "sessionid=") || strings.HasPrefix(c, "csrftoken=") {
					found++
					if !strings.Contains(c, "Max-Age=7776000") { // 90 days, the greatest session_max_lifetime
						t.Errorf("%s: Set-Cookie %q, want Max-Age=7776000", what, c)
					}
				}
			}
			if found != 2 {
				t.Errorf("%s: %d session cookies set, want 2", what, found)
			}
		}
		_, r := e.login(email, twoFactorTestPassword)
		e.want(r, 200, "login")
		checkCookies(r, "login")

		secret, _ := e.activate(ann)
		e.alignClock(1)
		c, r := e.login(email, twoFactorTestPassword)
		e.want(r, 200, "login owing the second factor")
		checkCookies(r, "login owing the second factor")
		e.want(e.passCode(c, e.code(secret, 0)), 200, "second factor")
		e.st.Clock.Advance(11 * time.Minute)
		e.want(e.do(c, "GET", "/api/v1/self/apitokens", nil), 200, "11 minutes after the second factor")
	})
}
