package server_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"portal"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIRegister: sign-up mails a verification link; signing up again with
// a verified address answers exactly the same, mails the owner a notice
// instead and changes nothing.
func TestAPIRegister(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"

		first := e.register(e.st.Client(), email, password, map[string]any{"org_name": "Acme"})
		e.want(first, 200, "register")
		if !strings.Contains(e.detail(first), "email") {
			t.Errorf("register answer does not tell to check the mail: %s", first.Body)
		}
		token := e.verifyToken(email, 1)
		if len(token) < 32 {
			t.Fatalf("verification token %q looks too weak", token)
		}

		// Not verified yet: the login is refused with the reason.
		_, r := e.login(email, password)
		e.want(r, 403, "login before verification")
		if m := r.JSON(t); m["email_not_verified"] != true || !strings.Contains(e.detail(r), "verif") {
			t.Errorf("unverified login answer = %s", r.Body)
		}

		r = e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+token, nil)
		e.want(r, 200, "verify")
		c, r := e.login(email, password)
		e.want(r, 200, "login after verification")
		if m := r.JSON(t); m["email"] != email || m["two_factor_required"] != false {
			t.Errorf("login answer = %s", r.Body)
		}
		self := e.self(c)
		if self["first_name"] != "Test" || self["last_name"] != "User" || len(self["privileges"].([]any)) != 1 {
			t.Fatalf("self after sign-up = %v", self)
		}

		// Signing up again, in another case, with another password and
		// organization: the very same answer, a notice to the owner.
		for i, addr := range []string{email, "ANN@Example.com"} {
			again := e.register(e.st.Client(), addr, "another password", map[string]any{"org_name": "Evil Corp", "first_name": "Mallory"})
			if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) {
				t.Errorf("register of an existing address %q answers %d %s, want %d %s", addr, again.Status, again.Body, first.Status, first.Body)
			}
			m := e.waitMail(email, subjectExists, i+1)
			if !strings.Contains(m.Text, e.st.URL+"/login") {
				t.Errorf("account-exists notice has no login link:\n%s", m.Text)
			}
		}
		verifications := 0
		for _, m := range e.mailsTo(email) {
			if m.Subject == subjectVerify {
				verifications++
			}
		}
		if verifications != 1 {
			t.Errorf("%d verification mails to an existing account, want 1", verifications)
		}
		// Nothing was created or changed: the second sign-up's password opens
		// nothing, and it is told "not verified" exactly as for an address
		// without an account, so the answer does not reveal the account.
		if _, r := e.login(email, "another password"); r.Status != 403 || e.detail(r) == "" {
			t.Errorf("login with the second sign-up's password: %d %s, want 403 not verified", r.Status, r.Body)
		}
		self = e.self(c)
		if self["first_name"] != "Test" || len(self["privileges"].([]any)) != 1 {
			t.Errorf("existing account changed by a second sign-up: %v", self)
		}
		if n := len(e.orgIDs(c)); n != 1 {
			t.Errorf("%d organizations, want 1", n)
		}
	})
}

// TestAPIRegisterResend: an unverified account cannot log in; a resent link
// replaces the old one; resend answers the same for every address.
func TestAPIRegisterResend(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "bob@example.com", "bobs garden kettle"
		e.want(e.register(e.st.Client(), email, password, nil), 200, "register")
		oldToken := e.verifyToken(email, 1)

		_, r := e.login(email, password)
		e.want(r, 403, "unverified login")
		if r.JSON(t)["email_not_verified"] != true {
			t.Errorf("unverified login: %s", r.Body)
		}

		anon := e.st.Client()
		resent := e.do(anon, "POST", "/api/v1/register/resend", map[string]any{"email": email})
		e.want(resent, 200, "resend")
		newToken := e.verifyToken(email, 2)
		if newToken == oldToken {
			t.Fatal("resend mailed the same token")
		}

		// The same answer for an unknown address, and no mail.
		r = e.do(anon, "POST", "/api/v1/register/resend", map[string]any{"email": "nobody@example.com"})
		if r.Status != resent.Status || !bytes.Equal(r.Body, resent.Body) {
			t.Errorf("resend for an unknown address: %d %s, want %d %s", r.Status, r.Body, resent.Status, resent.Body)
		}

		r = e.do(anon, "POST", "/api/v1/register/verify/"+oldToken, nil)
		e.want(r, 404, "replaced link")
		if !strings.Contains(e.detail(r), "link") {
			t.Errorf("replaced link detail: %s", r.Body)
		}
		e.want(e.do(anon, "POST", "/api/v1/register/verify/"+newToken, nil), 200, "new link")
		_, r = e.login(email, password)
		e.want(r, 200, "login after verification")

		r = e.do(anon, "POST", "/api/v1/register/resend", map[string]any{"email": email})
		if r.Status != resent.Status || !bytes.Equal(r.Body, resent.Body) {
			t.Errorf("resend for a verified address: %d %s, want %d %s", r.Status, r.Body, resent.Status, resent.Body)
		}
		e.want(e.do(anon, "POST", "/api/v1/register/resend", map[string]any{"email": "not an address"}), 400, "resend bad address")

		// Nothing more was mailed to the verified or the unknown address.
		e.register(e.st.Client(), "marker@example.com", "marked kettle lamp", nil)
		e.verifyToken("marker@example.com", 1) // mail sent after the resends has arrived
		if n := len(e.mailsTo(email)); n != 2 {
			t.Errorf("%d mails to %s, want 2", n, email)
		}
		if n := len(e.mailsTo("nobody@example.com")); n != 0 {
			t.Errorf("%d mails to an unknown address", n)
		}
	})
}

// TestAPIVerifyLink: links are single-use, expire after exactly 24 hours,
// and unknown tokens are not found.
func TestAPIVerifyLink(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		anon := e.st.Client()

		e.want(e.register(anon, "once@example.com", "first signup kettle", nil), 200, "register")
		token := e.verifyToken("once@example.com", 1)
		e.want(e.do(anon, "POST", "/api/v1/register/verify/"+token, nil), 200, "first use")
		r := e.do(anon, "POST", "/api/v1/register/verify/"+token, nil)
		e.want(r, 400, "second use")
		if !strings.Contains(e.detail(r), "already been used") {
			t.Errorf("second use detail: %s", r.Body)
		}

		// Still valid one second before the 24 hours are up.
		e.want(e.register(anon, "late@example.com", "second signup kettle", nil), 200, "register")
		token = e.verifyToken("late@example.com", 1)
		e.st.Clock.Advance(24*time.Hour - time.Second)
		e.want(e.do(anon, "POST", "/api/v1/register/verify/"+token, nil), 200, "link at 23:59:59")

		// Expired at 24 hours.
		e.want(e.register(anon, "expired@example.com", "password three", nil), 200, "register")
		token = e.verifyToken("expired@example.com", 1)
		e.st.Clock.Advance(24 * time.Hour)
		r = e.do(anon, "POST", "/api/v1/register/verify/"+token, nil)
		e.want(r, 400, "expired link")
		if !strings.Contains(e.detail(r), "expired") {
			t.Errorf("expired link detail does not say so: %s", r.Body)
		}
		_, r = e.login("expired@example.com", "password three")
		e.want(r, 403, "login with an expired link unused")

		for _, tok := range []string{"unknown", strings.Repeat("A", 43), strings.Repeat("x", 300), "%00"} {
			r := e.do(anon, "POST", "/api/v1/register/verify/"+tok, nil)
			e.want(r, 404, "unknown token "+tok)
		}
	})
}

// TestAPIRegisterBadInput: invalid addresses, names and passwords are
// refused with a clear detail, and no account is created.
func TestAPIRegisterBadInput(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		long := strings.Repeat("n", portal.MaxNameLen+1)
		cases := []struct {
			name   string
			email  string
			fields map[string]any
			want   string // in the detail
		}{
			{"no email", "", nil, "email"},
			{"not an address", "not-an-email", nil, "email"},
			{"no domain", "ann@", nil, "email"},
			{"no local part", "@example.com", nil, "email"},
			{"no dot in domain", "ann@example", nil, "email"},
			{"display name", "Ann <ann1@example.com>", nil, "email"},
			{"two at signs", "ann@@example.com", nil, "email"},
			{"space", "ann 2@example.com", nil, "email"},
			{"too long address", strings.Repeat("a", 250) + "@example.com", nil, "email"},
			{"email not a string", "", map[string]any{"email": 5}, "email"},
			{"empty first name", "e1@example.com", map[string]any{"first_name": ""}, "first_name"},
			{"blank first name", "e2@example.com", map[string]any{"first_name": "   "}, "first_name"},
			{"long first name", "e3@example.com", map[string]any{"first_name": long}, "first_name"},
			{"control char in name", "e4@example.com", map[string]any{"first_name": "Ann\u0000"}, "first_name"},
			{"empty last name", "e5@example.com", map[string]any{"last_name": ""}, "last_name"},
			{"long last name", "e6@example.com", map[string]any{"last_name": long}, "last_name"},
			{"long org name", "e7@example.com", map[string]any{"org_name": strings.Repeat("o", portal.MaxOrgNameLen+1)}, "org_name"},
			{"short password", "e8@example.com", map[string]any{"password": "short"}, "password"},
			{"empty password", "e9@example.com", map[string]any{"password": ""}, "password"},
			{"password over 32", "e10@example.com", map[string]any{"password": strings.Repeat("p", portal.MaxPasswordLen+1)}, "password"},
		}
		for _, tc := range cases {
			password := "good long passphrase"
			if p, ok := tc.fields["password"].(string); ok {
				password = p
			}
			body := map[string]any{"email": tc.email, "first_name": "Test", "last_name": "User", "password": password}
			for k, v := range tc.fields {
				body[k] = v
			}
			r := e.do(e.st.Client(), "POST", "/api/v1/register", body)
			if r.Status != 400 {
				t.Errorf("%s: status %d, want 400: %s", tc.name, r.Status, r.Body)
				continue
			}
			if dt := e.detail(r); !strings.Contains(dt, tc.want) {
				t.Errorf("%s: detail %q does not name %q", tc.name, dt, tc.want)
			}
			// No account: a login with these credentials is a plain
			// failure, not "not verified".
			if strings.HasPrefix(tc.email, "e") && password != "" {
				if _, r := e.login(tc.email, password); r.Status != 400 {
					t.Errorf("%s: login afterwards %d %s: an account was created", tc.name, r.Status, r.Body)
				}
			}
		}

		// The limits themselves are accepted, and the refused addresses are
		// still free: signing up now creates the account.
		email := "e3@example.com"
		const longest = "correct horse battery staple 32!" // portal.MaxPasswordLen characters
		r := e.register(e.st.Client(), email, longest, map[string]any{
			"first_name": strings.Repeat("é", portal.MaxNameLen), "last_name": strings.Repeat("l", portal.MaxNameLen),
			"org_name": strings.Repeat("ö", portal.MaxOrgNameLen)})
		e.want(r, 200, "register at the limits")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+e.verifyToken(email, 1), nil), 200, "verify")
		c, r := e.login(email, longest)
		e.want(r, 200, "login at the limits")
		if self := e.self(c); self["first_name"] != strings.Repeat("é", portal.MaxNameLen) {
			t.Errorf("first name = %q", self["first_name"])
		}
		for _, m := range e.st.SMTP.Messages() {
			if m.Subject == subjectExists {
				t.Errorf("a refused sign-up left an account: notice to %v", m.To)
			}
		}
	})
}

// TestAPILogin: wrong password and unknown address answer the same; a new
// session at every login; cookie attributes; logout ends the session on
// the server.
func TestAPILogin(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		e.signUp(email, password, "Acme")

		_, wrong := e.login(email, "wrong password")
		_, unknown := e.login("nobody@example.com", "wrong password")
		e.want(wrong, 400, "wrong password")
		if unknown.Status != wrong.Status || !bytes.Equal(unknown.Body, wrong.Body) {
			t.Errorf("unknown address: %d %s; wrong password: %d %s", unknown.Status, unknown.Body, wrong.Status, wrong.Body)
		}
		for _, body := range []map[string]any{{"email": email}, {"password": password}, {}, {"email": email, "password": strings.Repeat("x", 200)}} {
			r := e.do(e.st.Client(), "POST", "/api/v1/login", body)
			if r.Status != 400 || !bytes.Equal(r.Body, wrong.Body) {
				t.Errorf("login %v: %d %s, want %d %s", body, r.Status, r.Body, wrong.Status, wrong.Body)
			}
		}

		// A new session at every login, each valid on its own.
		c1, r1 := e.login(email, password)
		e.want(r1, 200, "login 1")
		c2, r2 := e.login(strings.ToUpper(email), password)
		e.want(r2, 200, "login 2 (address in another case)")
		s1, s2 := e.cookie(c1, "sessionid"), e.cookie(c2, "sessionid")
		if s1 == "" || s2 == "" || s1 == s2 {
			t.Fatalf("session ids %q and %q", s1, s2)
		}
		if e.cookie(c1, "csrftoken") == e.cookie(c2, "csrftoken") {
			t.Error("two sessions share a CSRF token")
		}
		e.self(c1)
		e.self(c2)
		e.want(e.do(c1, "POST", "/api/v1/login", map[string]any{"email": email, "password": password}), 200, "login again on c1")
		if s := e.cookie(c1, "sessionid"); s == s1 {
			t.Error("a second login on the same client kept the session id")
		}

		// Cookie attributes.
		res := &http.Response{Header: r1.Header}
		cookies := map[string]*http.Cookie{}
		for _, ck := range res.Cookies() {
			cookies[ck.Name] = ck
		}
		sc, cc := cookies["sessionid"], cookies["csrftoken"]
		if sc == nil || cc == nil {
			t.Fatalf("login cookies: %v", r1.Header["Set-Cookie"])
		}
		if !sc.HttpOnly || sc.SameSite == http.SameSiteDefaultMode || sc.SameSite == http.SameSiteNoneMode || sc.Path != "/" {
			t.Errorf("sessionid cookie: %s", sc.String())
		}
		if cc.HttpOnly || cc.SameSite == http.SameSiteDefaultMode || cc.SameSite == http.SameSiteNoneMode {
			t.Errorf("csrftoken cookie (must be readable by scripts, SameSite): %s", cc.String())
		}

		// Logout ends the session on the server: the old cookie, replayed
		// from another client, is refused.
		old := map[string]string{"sessionid": e.cookie(c2, "sessionid"), "csrftoken": e.cookie(c2, "csrftoken")}
		r := e.do(c2, "POST", "/api/v1/logout", nil)
		e.want(r, 200, "logout")
		e.want(e.do(c2, "GET", "/api/v1/self", nil), 401, "self after logout")
		replay := e.clientWith(old)
		e.want(e.do(replay, "GET", "/api/v1/self", nil), 401, "replayed cookie after logout")
		e.want(e.do(replay, "POST", "/api/v1/orgs", map[string]any{"name": "Replayed"}), 401, "replayed cookie, unsafe method")
		e.want(e.do(replay, "POST", "/api/v1/logout", nil), 401, "logout twice")
		e.self(c1) // the other session lives on
	})
}

// TestAPILoginThrottle: after 5 failures the account is locked (429 with
// an integer Retry-After), even for the right password, until the lock
// ends; unknown addresses behave the same.
func TestAPILoginThrottle(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		e.signUp(email, password, "")

		for _, addr := range []string{email, "nobody@example.com"} {
			for i := range 5 {
				_, r := e.login(addr, "wrong password")
				e.want(r, 400, addr+" failure "+strconv.Itoa(i+1))
			}
			for _, pw := range []string{password, "wrong password"} {
				_, r := e.login(addr, pw)
				e.want(r, 429, addr+" while locked")
				secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
				if err != nil || secs < 1 || secs > 3600 {
					t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
				}
				if dt := e.detail(r); !strings.Contains(dt, "too many") || !strings.Contains(dt, strconv.Itoa(secs)) {
					t.Errorf("429 detail %q (Retry-After %d)", dt, secs)
				}
			}
		}

		_, r := e.login(email, password)
		secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		e.st.Clock.Advance(time.Duration(secs-1) * time.Second)
		_, r = e.login(email, password)
		e.want(r, 429, "one second before the lock ends")
		e.st.Clock.Advance(2 * time.Second)
		c, r := e.login(email, password)
		e.want(r, 200, "login after the lock")
		e.self(c)

		// A successful login resets the count: one failure does not lock.
		_, r = e.login(email, "wrong password")
		e.want(r, 400, "failure after success")
		_, r = e.login(email, password)
		e.want(r, 200, "login after one failure")
	})
}

// TestAPISessionExpiry: sessions slide with activity and end after the
// expiry of idleness; an organization's session_expiry shortens them.
func TestAPISessionExpiry(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		c := e.signUp(email, password, "")
		if self := e.self(c); self["session_expiry"] != float64(portal.DefaultSessionExpiry) {
			t.Fatalf("session_expiry = %v", self["session_expiry"])
		}

		// Activity keeps the session alive past 1440 minutes in total.
		for range 3 {
			e.st.Clock.Advance(1000 * time.Minute)
			e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "active session")
		}
		e.st.Clock.Advance(1441 * time.Minute)
		r := e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 401, "idle 1441 minutes")
		if !strings.Contains(e.detail(r), "expired") {
			t.Errorf("expired session detail: %s", r.Body)
		}

		c, r = e.login(email, password)
		e.want(r, 200, "login")
		e.st.Clock.Advance(1439 * time.Minute)
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "idle 1439 minutes")

		// An organization with session_expiry 10.
		e.want(e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "Short"}), 200, "create org")
		org := e.firstOrg(c)
		r = e.do(c, "PUT", "/api/v1/orgs/"+org, map[string]any{"session_expiry": 10})
		e.want(r, 200, "set session_expiry")
		if r.JSON(t)["session_expiry"] != float64(10) {
			t.Fatalf("org = %s", r.Body)
		}
		if self := e.self(c); self["session_expiry"] != float64(10) {
			t.Errorf("self session_expiry = %v, want 10", self["session_expiry"])
		}
		fresh, r := e.login(email, password)
		e.want(r, 200, "login")
		for range 3 {
			e.st.Clock.Advance(9 * time.Minute)
			e.want(e.do(fresh, "GET", "/api/v1/self", nil), 200, "active short session")
			e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "active older session")
		}
		e.st.Clock.Advance(11 * time.Minute)
		e.want(e.do(fresh, "GET", "/api/v1/self", nil), 401, "short session idle 11 minutes")
		// The session opened before the change is shortened at its next use.
		e.want(e.do(c, "GET", "/api/v1/self", nil), 401, "older session idle 11 minutes")
	})
}

// TestAPICSRF: unsafe methods on a session need the right X-CSRFToken;
// GETs may carry it; browsers' cross-site requests are refused.
func TestAPICSRF(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		site := e.createSite(c, org, "HQ")
		other := e.signUp("bob@example.com", "bobs garden kettle", "")
		otherToken := e.cookie(other, "csrftoken")

		requests := []struct{ method, path, body string }{
			{"POST", "/api/v1/orgs", `{"name":"Forged"}`},
			{"PUT", "/api/v1/orgs/" + org, `{"name":"Forged"}`},
			{"DELETE", "/api/v1/orgs/" + org, ""},
			{"POST", "/api/v1/orgs/" + org + "/sites", `{"name":"Forged"}`},
			{"PUT", "/api/v1/sites/" + site, `{"name":"Forged"}`},
			{"DELETE", "/api/v1/sites/" + site, ""},
			{"POST", "/api/v1/logout", ""},
		}
		for _, token := range []string{"", "wrong", otherToken, e.cookie(c, "csrftoken") + "x"} {
			for _, rq := range requests {
				r := e.raw(c, rq.method, rq.path, rq.body, map[string]string{"X-CSRFToken": token})
				if r.Status != 403 || !strings.Contains(e.detail(r), "CSRF") {
					t.Errorf("%s %s with X-CSRFToken %q: %d %s", rq.method, rq.path, token, r.Status, r.Body)
				}
			}
		}

		// Cross-site requests from a browser are refused, even with the token.
		csrf := e.cookie(c, "csrftoken")
		for _, hdr := range []map[string]string{
			{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "X-CSRFToken": csrf},
			{"Origin": "https://evil.example", "X-CSRFToken": csrf},
		} {
			for _, rq := range requests {
				if r := e.raw(c, rq.method, rq.path, rq.body, hdr); r.Status != 403 {
					t.Errorf("%s %s cross-site %v: %d %s", rq.method, rq.path, hdr, r.Status, r.Body)
				}
			}
			if r := e.raw(e.st.Client(), "POST", "/api/v1/login", `{"email":"ann@example.com","password":"correct horse 1"}`, hdr); r.Status != 403 {
				t.Errorf("cross-site login: %d %s", r.Status, r.Body)
			}
			// The GUI refuses them too, with a page rather than JSON.
			hdr["Content-Type"] = "application/x-www-form-urlencoded"
			r := sendRaw(t, e.st, e.st.Client(), "POST", "/login", strings.NewReader("email=ann%40example.com&password=correct+horse+1"), true, hdr)
			if r.Status != 403 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("cross-site GUI login: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		}

		// Nothing changed.
		if ids := e.orgIDs(c); len(ids) != 1 || ids[0] != org {
			t.Errorf("organizations after forged requests: %v", ids)
		}
		e.wantOrg(c, org, "Acme", "HQ")

		// The Mist SDK sends the token on GETs too, without Origin.
		r := e.raw(c, "GET", "/api/v1/self", "", map[string]string{"X-CSRFToken": csrf})
		e.want(r, 200, "GET with X-CSRFToken")
		// Same-origin browser requests and SDK requests work.
		r = e.raw(c, "PUT", "/api/v1/orgs/"+org, `{"name":"Acme 2"}`, map[string]string{"X-CSRFToken": csrf, "Origin": e.st.URL, "Sec-Fetch-Site": "same-origin"})
		e.want(r, 200, "same-origin PUT")
		r = e.raw(c, "PUT", "/api/v1/orgs/"+org, `{"name":"Acme 3"}`, map[string]string{"X-CSRFToken": csrf})
		e.want(r, 200, "SDK PUT")
	})
}
