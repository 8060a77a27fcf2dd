package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Session security (OWASP ASVS 5.0 chapter 7): an absolute lifetime, a new
// token once the second factor is passed, and a new login replacing the
// browser's previous session.

const day = 24 * time.Hour

// sessionCookieSet returns the value of the sessionid cookie that r sets,
// or "".
func sessionCookieSet(r testenv.Response) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "sessionid" {
			return c.Value
		}
	}
	return ""
}

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

// TestAPITwoFactorRotatesSessionToken: passing the second factor gives the
// session a new token, so a token seen before the second step is worthless
// after it; the CSRF token stays the same (Mist clients read it once).
func TestAPITwoFactorRotatesSessionToken(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "rotate@example.com"
		owner := e.signUp(email, twoFactorTestPassword, "")
		secret, _ := e.activate(owner)

		e.alignClock(1)
		c := e.pendingLogin(email)
		before, csrf := e.cookie(c, "sessionid"), e.cookie(c, "csrftoken")
		r := e.passCode(c, e.code(secret, 0))
		e.want(r, 200, "second factor")
		after := e.cookie(c, "sessionid")
		if set := sessionCookieSet(r); set == "" || set != after || after == before {
			t.Fatalf("second factor: sessionid set %q, jar %q, before %q: want a new token", set, after, before)
		}
		if got := e.cookie(c, "csrftoken"); got != csrf {
			t.Errorf("csrftoken changed from %q to %q", csrf, got)
		}

		old := e.clientWith(map[string]string{"sessionid": before, "csrftoken": csrf})
		e.want(e.do(old, "GET", "/api/v1/self", nil), 401, "token from before the second factor")
		e.want(e.do(old, "POST", "/api/v1/logout", nil), 401, "logout with the old token")

		m := e.self(c)
		if m["two_factor_passed"] != true || m["email"] != email {
			t.Errorf("self with the new token: %v", m)
		}
		// The CSRF token read at login still works for unsafe requests.
		r = e.raw(c, "PUT", "/api/v1/self", `{"first_name": "Rotated"}`, map[string]string{"X-CSRFToken": csrf})
		e.want(r, 200, "PUT /self with the csrftoken read at login")
	})
}

// TestGUITwoFactorRotatesSessionToken: the second page of a GUI login sets
// a new sessionid cookie; the one set by the first page is refused.
func TestGUITwoFactorRotatesSessionToken(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "gui-rotate@example.com"
		owner := e.signUp(email, twoFactorTestPassword, "")
		secret, _ := e.activate(owner)
		e.alignClock(1)

		c := e.st.Client()
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		r := sendRaw(t, e.st, c, "POST", "/login", strings.NewReader(url.Values{"email": {email}, "password": {twoFactorTestPassword}, "next": {"/account"}}.Encode()), true, form)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login/two_factor") {
			t.Fatalf("POST /login: %d to %q", r.Status, r.Header.Get("Location"))
		}
		before, csrf := e.cookie(c, "sessionid"), e.cookie(c, "csrftoken")
		r = sendRaw(t, e.st, c, "POST", "/login/two_factor", strings.NewReader(url.Values{"csrf_token": {csrf}, "two_factor": {e.code(secret, 0)}, "next": {"/account"}}.Encode()), true, form)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
			t.Fatalf("POST /login/two_factor: %d to %q", r.Status, r.Header.Get("Location"))
		}
		after := sessionCookieSet(r)
		if after == "" || after == before || e.cookie(c, "sessionid") != after {
			t.Fatalf("POST /login/two_factor set sessionid %q (before %q)", after, before)
		}
		if got := e.cookie(c, "csrftoken"); got != csrf {
			t.Errorf("csrftoken changed from %q to %q", csrf, got)
		}
		old := e.clientWith(map[string]string{"sessionid": before, "csrftoken": csrf})
		r = sendRaw(t, e.st, old, "GET", "/account", nil, false, nil)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?") {
			t.Errorf("GET /account with the first page's cookie: %d to %q, want the login page", r.Status, r.Header.Get("Location"))
		}
		if page := pageText(t, e.st, c, "/account"); !strings.Contains(page, email) {
			t.Error("My Account with the new cookie does not show the account")
		}
		// A form with the CSRF token of the first page still works.
		r = sendRaw(t, e.st, c, "POST", "/account/info", strings.NewReader(url.Values{"csrf_token": {csrf}, "first_name": {"Gui"}, "last_name": {"User"}}.Encode()), true, form)
		if r.Status != http.StatusSeeOther {
			t.Errorf("a form after the second factor with the first page's CSRF token: %d", r.Status)
		}
	})
}

// TestLoginReplacesPreviousSession: a login from a browser that holds a
// session of the same user ends that session in the same transaction (API
// and GUI); a session of another user in the jar is left alone, only its
// cookie is replaced. With two-factor authentication, a login with the
// code ends a session of the browser that still owed its code.
func TestLoginReplacesPreviousSession(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const ann, bob, pw = "ann@example.com", "bob@example.com", "correct horse 1"
		c := e.signUp(ann, pw, "")
		first := e.cookie(c, "sessionid")
		e.want(e.do(c, "POST", "/api/v1/login", map[string]any{"email": ann, "password": pw}), 200, "second login")
		second := e.cookie(c, "sessionid")
		if second == first {
			t.Fatal("the second login kept the token")
		}
		e.want(e.do(e.clientWith(map[string]string{"sessionid": first}), "GET", "/api/v1/self", nil), 401, "the first session")
		if list := e.sessions(c); len(list) != 1 {
			t.Errorf("after logging in twice in one browser, %d sessions: %v", len(list), list)
		}

		// The GUI login does the same.
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		r := sendRaw(t, e.st, c, "POST", "/login", strings.NewReader(url.Values{"email": {ann}, "password": {pw}}.Encode()), true, form)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("POST /login: %d", r.Status)
		}
		third := e.cookie(c, "sessionid")
		if third == second {
			t.Fatal("the GUI login kept the token")
		}
		e.want(e.do(e.clientWith(map[string]string{"sessionid": second}), "GET", "/api/v1/self", nil), 401, "the session before the GUI login")
		if list := e.sessions(c); len(list) != 1 {
			t.Errorf("after the GUI login, %d sessions: %v", len(list), list)
		}
		if !e.hasAudit(c, "Logged in") {
			t.Error("no audit entry of the login")
		}

		// A jar holding Ann's cookie logs in as Bob: Ann's session stays.
		e.signUp(bob, pw, "")
		shared := e.clientWith(map[string]string{"sessionid": third, "csrftoken": e.cookie(c, "csrftoken")})
		e.want(e.do(shared, "POST", "/api/v1/login", map[string]any{"email": bob, "password": pw}), 200, "Bob logs in over Ann's cookie")
		if e.cookie(shared, "sessionid") == third {
			t.Fatal("Bob's login kept Ann's cookie")
		}
		if m := e.self(c); m["email"] != ann {
			t.Errorf("Ann's session now belongs to %v", m["email"])
		}
		if list := e.sessions(c); len(list) != 1 {
			t.Errorf("Ann has %d sessions, want 1: %v", len(list), list)
		}
		if m := e.self(shared); m["email"] != bob {
			t.Errorf("the shared jar is signed in as %v, want Bob", m["email"])
		}
		r = sendRaw(t, e.st, e.clientWith(map[string]string{"sessionid": third}), "POST", "/login", strings.NewReader(url.Values{"email": {bob}, "password": {pw}}.Encode()), true, form)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("GUI login of Bob over Ann's cookie: %d", r.Status)
		}
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "Ann's session after Bob's GUI login over her cookie")

		// With two-factor authentication: a login with the code in its
		// body, from a jar holding a session that still owes its code (a
		// token handed out before the second factor), ends that session.
		const carol = "carol@example.com"
		secret, _ := e.activate(e.signUp(carol, twoFactorTestPassword, ""))
		e.alignClock(1)
		c = e.pendingLogin(carol)
		pending := e.cookie(c, "sessionid")
		r2 := e.do(c, "POST", "/api/v1/login", map[string]any{"email": carol, "password": twoFactorTestPassword, "two_factor": e.code(secret, 0)})
		e.want(r2, 200, "login with the code")
		if m := r2.JSON(t); m["two_factor_passed"] != true || m["two_factor_required"] != false {
			t.Errorf("login with the code: %s", r2.Body)
		}
		if now := e.cookie(c, "sessionid"); now == pending || now == "" {
			t.Fatalf("login with the code kept the token %q", now)
		}
		e.want(e.do(e.clientWith(map[string]string{"sessionid": pending}), "GET", "/api/v1/self", nil), 401, "the pending session's token")
		e.want(e.do(c, "GET", "/api/v1/self/apitokens", nil), 200, "the new session")
		if list := e.sessions(c); len(list) != 2 { // signUp's and this one
			t.Errorf("Carol has %d sessions, want 2: %v", len(list), list)
		}
	})
}

// TestSessionMaxLifetimeEveryWayIn: the sessions that do not come from a
// login, a recovery link's session once its password is set and the session
// of a sign-up from an invitation, are created with an expiry no later than
// the organization's maximum lifetime, however long its idle expiry is, and
// are refused from then on.
func TestSessionMaxLifetimeEveryWayIn(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		ann := e.signUp(email, password, "Acme")
		org := e.firstOrg(ann)
		e.want(e.do(ann, "PUT", "/api/v1/orgs/"+org, map[string]any{"session_expiry": 20160, "session_max_lifetime": 1}), 200, "14-day idle expiry, 1-day maximum")
		// newest checks the user's newest session: its stored expiry is at
		// most a day after its creation, and it is refused a day on.
		newest := func(addr string, c *http.Client) {
			t.Helper()
			list, err := e.st.DB.ListUserSessions(context.Background(), e.userID(addr), e.st.Clock.Now())
			if err != nil || len(list) == 0 {
				t.Fatalf("sessions of %s: %v %v", addr, list, err)
			}
			s := list[0]
			for _, x := range list {
				if x.CreatedTime.After(s.CreatedTime) {
					s = x
				}
			}
			if limit := s.CreatedTime.Add(day); s.ExpiresTime.After(limit) {
				t.Errorf("%s's new session expires at %v, past its maximum lifetime %v", addr, s.ExpiresTime, limit)
			}
			e.st.Clock.Advance(day)
			if r := e.do(c, "GET", "/api/v1/self", nil); r.Status != 401 {
				t.Errorf("%s's session a day on: %d %s", addr, r.Status, r.Body)
			}
		}

		// Recovery with the new password in the same call: a full session.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		rec := e.st.Client()
		e.want(e.do(rec, "POST", "/api/v1/recover/verify/"+e.recoverToken(email, 1), map[string]any{"password": "a recovered passphrase"}), 200, "recovery")
		newest(email, rec)

		// Sign-up from an invitation to Acme.
		a2, r := e.login(email, "a recovered passphrase")
		e.want(r, 200, "login")
		e.invite(a2, org, "cat@example.com", orgPriv("read"))
		cat := e.st.Client()
		form := url.Values{"token": {e.inviteToken("cat@example.com", 1)}, "first_name": {"Cat"}, "last_name": {"Stevens"},
			"new_password": {"a passphrase of a kitten"}, "new_password_confirm": {"a passphrase of a kitten"}}
		res, err := cat.PostForm(e.st.URL+"/invite/signup", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-up from the invitation: %d", res.StatusCode)
		}
		newest("cat@example.com", cat)
	})
}

// TestGUISessionEndedSaysWhy: a page opened with a session that ended by
// itself goes to the login page, which says why.
func TestGUISessionEndedSaysWhy(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		// loginPage opens /account with c and follows the redirect to the
		// login page, returning its text.
		loginPage := func(c *http.Client) string {
			t.Helper()
			r := sendRaw(t, e.st, c, "GET", "/account", nil, false, nil)
			if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/login?next=%2Faccount" {
				t.Fatalf("GET /account: %d to %q, want the login page", r.Status, loc)
			}
			return pageText(t, e.st, c, "/login?next=%2Faccount")
		}
		ann := e.signUp("ann@example.com", "correct horse 1", "Acme")
		e.st.Clock.Advance(1441 * time.Minute) // the default idle expiry is 1440 minutes
		if page := loginPage(ann); !strings.Contains(page, "Your session has expired; please log in again.") || !strings.Contains(page, `name="password"`) {
			t.Errorf("after the idle expiry the login page shows %q", firstLine(page, "flash"))
		}

		bob := e.signUp("bob@example.com", "correct horse 1", "Bobs")
		e.want(e.do(bob, "PUT", "/api/v1/orgs/"+e.firstOrg(bob), map[string]any{"session_expiry": 20160, "session_max_lifetime": 1}), 200, "1-day maximum")
		e.st.Clock.Advance(day)
		if page := loginPage(bob); !strings.Contains(page, "Your session has reached its maximum lifetime of 1 day; please log in again.") {
			t.Errorf("after the maximum lifetime the login page shows %q", firstLine(page, "flash"))
		}
		// Without a session, the login page says nothing of the kind.
		if page := loginPage(e.st.Client()); strings.Contains(page, "please log in again") {
			t.Errorf("a first visit is told its session ended: %q", firstLine(page, "flash"))
		}
	})
}
