package server_test

import (
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Session security (OWASP ASVS 5.0 chapter 7): an absolute lifetime.

const day = 24 * time.Hour

// TestAPISessionMaxLifetime: activity slides a session, but never past its
// maximum lifetime counted from the login (30 days by default, an
// organization's session_max_lifetime in days, the shortest of the user's
// organizations); then the user must log in again, told why.
func TestAPISessionMaxLifetime(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		c := e.signUp(email, password, "Acme")
		start := e.st.Clock.Now() // the login of signUp
		org := e.firstOrg(c)
		r := e.do(c, "GET", "/api/v1/orgs/"+org, nil)
		e.want(r, 200, "get org")
		if got := r.JSON(t)["session_max_lifetime"]; got != float64(30) {
			t.Fatalf("session_max_lifetime = %v, want the default 30 (days): %s", got, r.Body)
		}

		// Used every 20 hours (within the idle expiry of 1440 minutes), the
		// session lives 30 days and not a second more.
		for e.st.Clock.Now().Add(20 * time.Hour).Before(start.Add(30 * day)) {
			e.st.Clock.Advance(20 * time.Hour)
			e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "active session at "+e.st.Clock.Now().Sub(start).String())
		}
		e.st.Clock.Advance(start.Add(30*day - time.Second).Sub(e.st.Clock.Now()))
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "a second before 30 days")
		e.st.Clock.Advance(time.Second)
		r = e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 401, "30 days after the login, however active")
		if want := "your session has reached its maximum lifetime of 30 days; please log in again"; e.detail(r) != want {
			t.Errorf("detail %q, want %q", e.detail(r), want)
		}
		// It stays refused (a 60-day-old session is not revived by use).
		e.st.Clock.Advance(30 * day)
		e.want(e.do(c, "GET", "/api/v1/self", nil), 401, "60 days after the login")

		// An organization's own maximum, in days, for sessions old and new.
		older, r := e.login(email, password)
		e.want(r, 200, "login")
		olderStart := e.st.Clock.Now()
		e.st.Clock.Advance(time.Hour)
		r = e.do(older, "PUT", "/api/v1/orgs/"+org, map[string]any{"session_max_lifetime": 2})
		e.want(r, 200, "set session_max_lifetime")
		if o := r.JSON(t); o["session_max_lifetime"] != float64(2) || o["session_expiry"] != float64(1440) {
			t.Fatalf("org after the change: %s", r.Body)
		}
		if got := e.do(older, "GET", "/api/v1/orgs/"+org, nil).JSON(t)["session_max_lifetime"]; got != float64(2) {
			t.Errorf("GET org: session_max_lifetime %v, want 2", got)
		}
		fresh, r := e.login(email, password)
		e.want(r, 200, "login")
		freshStart := e.st.Clock.Now()
		for range 2 {
			e.st.Clock.Advance(20 * time.Hour)
			e.want(e.do(older, "GET", "/api/v1/self", nil), 200, "older session within 2 days")
			e.want(e.do(fresh, "GET", "/api/v1/self", nil), 200, "new session within 2 days")
		}
		e.st.Clock.Advance(olderStart.Add(2 * day).Sub(e.st.Clock.Now()))
		r = e.do(older, "GET", "/api/v1/self", nil)
		e.want(r, 401, "older session 2 days after its login")
		if !strings.Contains(e.detail(r), "maximum lifetime of 2 days") {
			t.Errorf("detail %q", e.detail(r))
		}
		e.want(e.do(fresh, "GET", "/api/v1/self", nil), 200, "new session, 2 days less an hour after its login")
		e.st.Clock.Advance(freshStart.Add(2 * day).Sub(e.st.Clock.Now()))
		e.want(e.do(fresh, "GET", "/api/v1/self", nil), 401, "new session 2 days after its login")

		// The shortest of the user's organizations applies: a new one with 1 day.
		c, r = e.login(email, password)
		e.want(r, 200, "login")
		cStart := e.st.Clock.Now()
		r = e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "Brief", "session_max_lifetime": 1})
		e.want(r, 200, "create org with session_max_lifetime")
		if r.JSON(t)["session_max_lifetime"] != float64(1) {
			t.Errorf("created org: %s", r.Body)
		}
		e.st.Clock.Advance(20 * time.Hour)
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "within a day")
		e.st.Clock.Advance(cStart.Add(day).Sub(e.st.Clock.Now()))
		r = e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 401, "a day after the login")
		if !strings.Contains(e.detail(r), "maximum lifetime of 1 day;") {
			t.Errorf("detail %q", e.detail(r))
		}
	})
}

// TestAPISessionMaxLifetimeBadInput: a maximum lifetime out of bounds or
// not a whole number is a 400 that names the field (and the bounds), and
// nothing of the request is written.
func TestAPISessionMaxLifetimeBadInput(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		for _, body := range []string{
			`{"session_max_lifetime": 0}`, `{"session_max_lifetime": 91}`, `{"session_max_lifetime": -1}`,
			`{"name": "Renamed", "session_max_lifetime": 0}`, `{"name": "Renamed", "session_expiry": 60, "session_max_lifetime": 1000}`,
		} {
			r := e.raw(c, "PUT", "/api/v1/orgs/"+org, body, map[string]string{"X-CSRFToken": e.cookie(c, "csrftoken")})
			e.want(r, 400, "PUT "+body)
			if want := "session_max_lifetime must be between 1 and 90 days"; e.detail(r) != want {
				t.Errorf("PUT %s: detail %q, want %q", body, e.detail(r), want)
			}
		}
		for _, body := range []string{`{"session_max_lifetime": "ten"}`, `{"session_max_lifetime": 1.5}`, `{"session_max_lifetime": 1e400}`, `{"session_max_lifetime": true}`} {
			r := e.raw(c, "PUT", "/api/v1/orgs/"+org, body, map[string]string{"X-CSRFToken": e.cookie(c, "csrftoken")})
			e.want(r, 400, "PUT "+body)
			if !strings.Contains(e.detail(r), "session_max_lifetime") {
				t.Errorf("PUT %s: detail %q does not name the field", body, e.detail(r))
			}
		}
		r := e.do(c, "GET", "/api/v1/orgs/"+org, nil)
		if o := r.JSON(t); o["name"] != "Acme" || o["session_expiry"] != float64(1440) || o["session_max_lifetime"] != float64(30) {
			t.Errorf("org after refused changes: %s", r.Body)
		}
		for _, v := range []any{0, 91} {
			r := e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "Other", "session_max_lifetime": v})
			e.want(r, 400, "create org with session_max_lifetime out of bounds")
			if !strings.Contains(e.detail(r), "between 1 and 90 days") {
				t.Errorf("create: detail %q", e.detail(r))
			}
		}
		if ids := e.orgIDs(c); len(ids) != 1 {
			t.Errorf("refused creations made organizations: %v", ids)
		}
		for _, v := range []int{1, 90} {
			r := e.do(c, "PUT", "/api/v1/orgs/"+org, map[string]any{"session_max_lifetime": v})
			e.want(r, 200, "bound")
			if r.JSON(t)["session_max_lifetime"] != float64(v) {
				t.Errorf("PUT %d: %s", v, r.Body)
			}
		}
	})
}
