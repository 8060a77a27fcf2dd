package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/oidclogin"
	"portal/internal/oidctest"
	"portal/internal/server"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Tests for ASVS 5.0 requirements that the code met without a test to hold
// them (SECURITY.md's table names each one with its requirement).

// page fetches a GUI page with c's cookies and returns its status, content
// type and body.
func (e *apiEnv) page(c *http.Client, path string) (int, string, string) {
	e.t.Helper()
	res, err := c.Get(e.st.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestInjectionPayloadsInert (V1.2.1, V1.2.3, V1.2.4, V1.3.7, V1.3.10):
// names holding markup, template actions, format verbs and SQL are stored
// as given and come back as text: escaped in GUI pages and in the HTML part
// of mails, with < escaped in API JSON, literal in plain text; SQL in the
// login fields finds nobody.
func TestInjectionPayloadsInert(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const (
			first = `"><svg onload=alert(1)>`
			last  = `</script><script>alert(2)</script>{{.}}%s%x`
			org   = `<img src=x onerror=alert(3)> & {{template "x"}}`
		)
		const email = "ann@example.com"
		c := e.st.Client()
		r := e.register(c, email, "correct horse 1", map[string]any{"first_name": first, "last_name": last, "org_name": org})
		e.want(r, 200, "register with markup in the names")
		m := e.waitMail(email, subjectVerify, 1)
		for _, bad := range []string{"<svg", "<script", "<img"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("verification mail's HTML part holds %q unescaped", bad)
			}
		}
		if m.HTML != "" && !strings.Contains(m.HTML, "&lt;svg onload=alert(1)&gt;") {
			t.Errorf("verification mail's HTML part does not show the name as text: %q", m.HTML)
		}
		if !strings.Contains(m.Text, first) {
			t.Errorf("verification mail's text part does not hold the name as typed: %q", m.Text)
		}
		e.want(e.do(c, "POST", "/api/v1/register/verify/"+e.verifyToken(email, 1), nil), 200, "verify")
		c, r = e.login(email, "correct horse 1")
		e.want(r, 200, "login")

		// The API: the names come back as given, with < > & escaped by the JSON encoder.
		r = e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 200, "self")
		for _, bad := range []string{"<svg", "<script", "</script"} {
			if strings.Contains(string(r.Body), bad) {
				t.Errorf("GET /api/v1/self holds %q: %s", bad, r.Body)
			}
		}
		if !strings.Contains(string(r.Body), `\u003csvg onload=alert(1)\u003e`) {
			t.Errorf("GET /api/v1/self: the name is not JSON-escaped: %s", r.Body)
		}
		self := e.self(c)
		if self["first_name"] != first || self["last_name"] != last {
			t.Errorf("names changed on the way: %q %q", self["first_name"], self["last_name"])
		}

		// The GUI: every page that shows the names or the organization.
		orgID := e.firstOrg(c)
		for _, path := range []string{"/account", "/orgs/" + orgID, "/orgs/" + orgID + "/admins", "/orgs/" + orgID + "/settings"} {
			status, ct, body := e.page(c, path)
			if status != 200 || ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s: %d %q", path, status, ct)
				continue
			}
			for _, bad := range []string{"<svg", "<img src=x", "<script>alert(2)"} {
				if strings.Contains(body, bad) {
					t.Errorf("GET %s: the page holds %q unescaped", path, bad)
				}
			}
		}
		_, _, body := e.page(c, "/account")
		for _, want := range []string{"&#34;&gt;&lt;svg onload=alert(1)&gt;", "{{.}}%s%x", "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET /account does not show %q as text", want)
			}
		}
		_, _, body = e.page(c, "/orgs/"+orgID)
		if !strings.Contains(body, `&lt;img src=x onerror=alert(3)&gt; &amp; {{template &#34;x&#34;}}`) {
			t.Errorf("GET /orgs/{id} does not show the organization's name as text")
		}

		// SQL in the login fields is a wrong login, nothing more.
		for _, cred := range [][2]string{{"' OR 1=1--", "x"}, {email + "' --", "x"}, {email, "' OR '1'='1"}} {
			_, r := e.login(cred[0], cred[1])
			if r.Status != 400 && r.Status != 401 {
				t.Errorf("login %q/%q: %d %s", cred[0], cred[1], r.Status, r.Body)
			}
		}
		_, r = e.login(email, "correct horse 1")
		e.want(r, 200, "login after the SQL attempts")
	})
}

// TestMailHeaderInjection (V1.3.11): line breaks in an address or a name
// never reach a mail header: the request is refused, nothing is mailed to
// the smuggled recipient, and every mail goes to exactly one recipient.
func TestMailHeaderInjection(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const eve = "eve@evil.example"
		for i, inj := range []string{"\r\nBcc: " + eve, "\nBcc: " + eve, "\r\n\r\nbody", "\rBcc: " + eve} {
			addr := fmt.Sprintf("ann%d@example.com", i)
			for field, body := range map[string]map[string]any{
				"email":      {"email": addr + inj},
				"first_name": {"email": addr, "first_name": "Ann" + inj},
				"last_name":  {"email": addr, "last_name": "Smith" + inj},
				"org_name":   {"email": addr, "org_name": "Acme" + inj},
			} {
				req := map[string]any{"first_name": "Ann", "last_name": "Smith", "password": "correct horse 1"}
				for k, v := range body {
					req[k] = v
				}
				r := e.do(e.st.Client(), "POST", "/api/v1/register", req)
				if r.Status != 400 || !strings.Contains(e.detail(r), field) {
					t.Errorf("register with a line break in %s (%q): %d %s", field, inj, r.Status, r.Body)
				}
			}
		}
		// Invitations: the address and the names are mailed too.
		c := e.signUp("boss@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		for _, body := range []map[string]any{
			{"email": "new@example.com\r\nBcc: " + eve, "first_name": "New", "last_name": "User", "privileges": []any{map[string]any{"scope": "org", "role": "read"}}},
			{"email": "new@example.com", "first_name": "New\r\nBcc: " + eve, "last_name": "User", "privileges": []any{map[string]any{"scope": "org", "role": "read"}}},
		} {
			if r := e.do(c, "POST", "/api/v1/orgs/"+org+"/invites", body); r.Status != 400 {
				t.Errorf("invite with a line break: %d %s", r.Status, r.Body)
			}
		}
		// A clean sign-up is mailed; by then every earlier message is in.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register", map[string]any{"email": "last@example.com", "first_name": "L", "last_name": "S", "password": "correct horse 1"}), 200, "register")
		e.waitMail("last@example.com", subjectVerify, 1)
		for _, m := range e.st.SMTP.Messages() {
			if len(m.To) != 1 || smtptest.To(eve)(m) || strings.Contains(string(m.Raw), eve) {
				t.Errorf("mail %q to %v holds the smuggled recipient or several recipients", m.Subject, m.To)
			}
			if len(m.Header["Bcc"]) > 0 || len(m.Header["Cc"]) > 0 {
				t.Errorf("mail %q has Cc/Bcc headers: %v", m.Subject, m.Header)
			}
		}
	})
}

// TestAPIRendersNoHTML (V3.2.1, V4.1.1): API answers are JSON with nosniff
// whatever the path or query holds, and never echo markup; GUI pages are
// text/html; charset=utf-8.
func TestAPIRendersNoHTML(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", "correct horse 1", "Acme")
	for _, client := range []*http.Client{e.st.Client(), c} {
		for _, path := range []string{
			"/api/v1/self?x=<script>alert(1)</script>",
			"/api/v1/<script>alert(1)</script>",
			"/api/v1/orgs/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
			"/api/v1/self/logs?limit=<script>",
		} {
			r := e.raw(client, "GET", path, "", map[string]string{"Accept": "text/html"})
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s: no nosniff", path)
			}
			if strings.Contains(string(r.Body), "<script") {
				t.Errorf("GET %s: the answer echoes markup: %s", path, r.Body)
			}
		}
	}
	for _, path := range []string{"/", "/login", "/account", "/no-such-page"} {
		_, ct, _ := e.page(c, path)
		if ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
	}
}

// TestCookieAttributes (V3.3.1–V3.3.4, V14.3.1): with an https base URL
// the session cookies are Secure, host-only (no Domain) for the whole site,
// SameSite; the session cookie is HttpOnly while the CSRF cookie is
// readable by scripts (Mist's double submit); logout expires both.
func TestCookieAttributes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		st.SignUp(t, "ann@example.com", "correct horse 1", "")
		h, err := server.NewServer(server.Options{Service: st.Service, Ready: st.DB.Ready, SecureCookies: true})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		post := func(path, body string, cookies []*http.Cookie) *http.Response {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for _, ck := range cookies {
				req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
				if ck.Name == "csrftoken" {
					req.Header.Set("X-CSRFToken", ck.Value)
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res
		}
		res := post("/api/v1/login", `{"email":"ann@example.com","password":"correct horse 1"}`, nil)
		if res.StatusCode != 200 {
			t.Fatalf("login: %d", res.StatusCode)
		}
		got := map[string]*http.Cookie{}
		for _, ck := range res.Cookies() {
			got[ck.Name] = ck
		}
		for _, name := range []string{"sessionid", "csrftoken"} {
			ck := got[name]
			switch {
			case ck == nil:
				t.Fatalf("login set no %s cookie: %v", name, res.Header["Set-Cookie"])
			case !ck.Secure:
				t.Errorf("%s: not Secure on an https base URL: %s", name, ck)
			case ck.Domain != "" || ck.Path != "/":
				t.Errorf("%s: Domain %q Path %q, want host-only for /", name, ck.Domain, ck.Path)
			case ck.SameSite != http.SameSiteLaxMode && ck.SameSite != http.SameSiteStrictMode:
				t.Errorf("%s: SameSite %v", name, ck.SameSite)
			case ck.HttpOnly != (name == "sessionid"):
				t.Errorf("%s: HttpOnly %v", name, ck.HttpOnly)
			}
		}
		res = post("/api/v1/logout", "", []*http.Cookie{got["sessionid"], got["csrftoken"]})
		if res.StatusCode != 200 {
			t.Fatalf("logout: %d", res.StatusCode)
		}
		cleared := map[string]bool{}
		for _, ck := range res.Cookies() {
			if ck.MaxAge < 0 && ck.Value == "" {
				cleared[ck.Name] = true
			}
		}
		if !cleared["sessionid"] || !cleared["csrftoken"] {
			t.Errorf("logout did not expire both cookies: %v", res.Header["Set-Cookie"])
		}
	})
}

// TestNoCORS (V3.4.2): no answer allows another origin to read it, a
// preflight included.
func TestNoCORS(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", "correct horse 1", "Acme")
	for _, rq := range []struct{ method, path string }{
		{"OPTIONS", "/api/v1/self"}, {"OPTIONS", "/api/v1/login"}, {"GET", "/api/v1/self"}, {"GET", "/account"}, {"POST", "/api/v1/login"},
	} {
		r := sendRaw(t, e.st, c, rq.method, rq.path, nil, false, map[string]string{
			"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-csrftoken, content-type",
		})
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Errorf("%s %s from another origin: %s: %q", rq.method, rq.path, k, r.Header.Get(k))
			}
		}
	}
}

// TestNoHiddenSurface (V13.4.1, V13.4.2, V13.4.4): no version-control
// files, debug or profiling endpoints, and no TRACE.
func TestNoHiddenSurface(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", "correct horse 1", "Acme")
	for _, client := range []*http.Client{e.st.Client(), c} {
		for _, path := range []string{"/.git/HEAD", "/.git/config", "/static/.git/HEAD", "/debug/pprof/", "/debug/pprof/heap", "/debug/vars",
			"/.env", "/static/%2e%2e/go.mod", "/server-status"} {
			if r := sendRaw(t, e.st, client, "GET", path, nil, false, nil); r.Status != 404 {
				t.Errorf("GET %s: %d, want 404", path, r.Status)
			}
		}
		for _, path := range []string{"/", "/login", "/api/v1/self", "/api/v1/login", "/static/app.js"} {
			r := sendRaw(t, e.st, client, "TRACE", path, nil, false, map[string]string{"X-Probe": "echo-me"})
			if r.Status != 405 && r.Status != 404 {
				t.Errorf("TRACE %s: %d, want 405", path, r.Status)
			}
			if strings.Contains(string(r.Body), "echo-me") {
				t.Errorf("TRACE %s echoed the request", path)
			}
		}
	}
}

// TestRequestFraming (V4.2.1): a request whose length is ambiguous (two
// different lengths, an unknown or misplaced coding, a length that is not
// plain digits) is refused and the connection closed, so nothing smuggled
// after it is read as a second request. (Content-Length together with
// chunked Transfer-Encoding is read as chunked, as RFC 9112 says: Go's
// server drops the length.)
func TestRequestFraming(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	addr := strings.TrimPrefix(st.URL, "http://")
	smuggled := "GET /api/v1/self HTTP/1.1\r\nHost: x\r\n\r\n"
	for name, head := range map[string]string{
		"two lengths":           "Content-Length: 4\r\nContent-Length: 60\r\n",
		"unknown coding":        "Transfer-Encoding: xchunked\r\n",
		"chunked not last":      "Transfer-Encoding: chunked, identity\r\n",
		"length with a sign":    "Content-Length: +4\r\n",
		"length in hexadecimal": "Content-Length: 0x4\r\n",
	} {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n0\r\n\r\n%s", head, smuggled)
		rd := bufio.NewReader(conn)
		res, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 400 && res.StatusCode != 501 {
			t.Errorf("%s: %d, want 400 or 501", name, res.StatusCode)
		}
		if second, err := http.ReadResponse(rd, nil); err == nil {
			t.Errorf("%s: the smuggled request was answered: %d", name, second.StatusCode)
			second.Body.Close()
		}
		conn.Close()
	}
}

// TestLogInjection (V16.4.1): what a client sends (a path with line breaks,
// a forged key=value) stays inside one quoted value of one log line.
func TestLogInjection(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	var logs logBuffer
	h, err := server.NewServer(server.Options{Service: st.Service, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Ready: st.DB.Ready})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const forged = `time=2000-01-01T00:00:00Z level=ERROR msg=forged`
	paths := []string{"/x%0A" + strings.ReplaceAll(forged, " ", "%20"), "/api/v1/x%0D%0A" + strings.ReplaceAll(forged, " ", "%20")}
	for _, p := range paths {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/login", strings.NewReader(`{"email":"a@example.com\n`+forged+`","password":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "id level=ERROR msg=forged")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d log lines: %q", len(lines), logs.String())
	}
	quoted := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	requests := 0
	for _, l := range lines {
		// Outside its quoted values, a line holds nothing the client sent.
		if bare := quoted.ReplaceAllString(l, `""`); !strings.HasPrefix(l, "time=") || strings.HasPrefix(l, "time=2000") || strings.Contains(bare, "forged") {
			t.Errorf("a log line was forged or split: %q", l)
		}
		if strings.Contains(l, " msg=request ") {
			requests++
		}
	}
	if requests != len(paths)+1 {
		t.Errorf("%d request lines for %d requests: %q", requests, len(paths)+1, lines)
	}
}

// TestParallelSingleUse (V2.3.4, V6.4.1, V6.5.1): a recovery code, a
// password-recovery link and an invitation link each used by several
// requests at the same moment work exactly once.
func TestParallelSingleUse(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const n = 8

		// One recovery code, n logins that owe their second factor.
		const ann = "ann@example.com"
		_, codes := e.activate(e.signUp(ann, twoFactorTestPassword, twoFactorTestOrg))
		var reqs []func() int
		for range n {
			c := e.pendingLogin(ann)
			reqs = append(reqs, func() int {
				return e.st.Do(t, c, "POST", "/api/v1/login/two_factor", map[string]any{"two_factor": codes[0]}).Status
			})
		}
		if _, won := race(t, "one recovery code", []int{400}, reqs...); won != 1 {
			t.Errorf("one recovery code passed %d second steps, want 1", won)
		}

		// One password-recovery link.
		const bob = "bob@example.com"
		e.signUp(bob, "correct horse 1", "")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": bob}), 200, "recover")
		token := e.linkToken(e.waitMail(bob, subjectRecover, 1), "/recover/verify?token=")
		reqs = nil
		for range n {
			c := e.st.Client()
			reqs = append(reqs, func() int { return e.st.Do(t, c, "POST", "/api/v1/recover/verify/"+token, nil).Status })
		}
		if _, won := race(t, "one recovery link", []int{400, 404}, reqs...); won != 1 {
			t.Errorf("one recovery link opened %d sessions, want 1", won)
		}

		// One invitation, accepted by its invitee from n requests at once.
		boss := e.signUp("boss@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(boss)
		const cid = "cid@example.com"
		invitee := e.signUp(cid, "correct horse 1", "")
		e.invite(boss, org, cid, []map[string]any{{"scope": "org", "role": "read"}})
		token = e.inviteToken(cid, 1)
		reqs = nil
		for range n {
			reqs = append(reqs, func() int { return e.st.Do(t, invitee, "POST", "/api/v1/invite/verify/"+token, nil).Status })
		}
		if _, won := race(t, "one invitation", []int{400, 404, 409}, reqs...); won != 1 {
			t.Errorf("one invitation was accepted %d times, want 1", won)
		}
		if privs, _ := e.self(invitee)["privileges"].([]any); len(privs) != 1 {
			t.Errorf("after the race the invitee has %d privileges, want 1", len(privs))
		}
	})
}

// TestPasswordVerifiedExactly (V6.2.8): a password is checked as typed: a
// prefix, another case or an extra space is wrong.
func TestPasswordVerifiedExactly(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "Correct Horse Battery 12"
		e.signUp(email, password, "")
		// Four wrong ones: under the 5 failures that lock the account.
		for _, wrong := range []string{password[:len(password)-1], strings.ToLower(password), password + " ", " " + password} {
			if _, r := e.login(email, wrong); r.Status != 400 && r.Status != 401 {
				t.Errorf("login with %q: %d %s", wrong, r.Status, r.Body)
			}
		}
		_, r := e.login(email, password)
		e.want(r, 200, "the password as typed")
	})
}

// TestNoForcedPasswordChangeByDefault (V6.2.10): without an organization's
// password expiry, a password never has to be changed, however old.
func TestNoForcedPasswordChangeByDefault(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "correct horse 1"
		e.signUp(email, password, "Acme")
		e.st.Clock.Advance(3 * 365 * 24 * time.Hour)
		c, r := e.login(email, password)
		e.want(r, 200, "login three years later")
		e.want(e.do(c, "GET", "/api/v1/self/logs", nil), 200, "a route closed to sessions that must change the password")
		e.want(e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "Beta"}), 200, "create an organization")
	})
}

// TestFreshInstallHasNoAccounts (V6.3.2): a new database has no account to
// log in with: the usual default names and passwords are unknown, and the
// first account is made by signing up.
func TestFreshInstallHasNoAccounts(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		for _, email := range []string{"admin@localhost", "admin@example.com", "root@localhost", "admin@portal.local", "no-reply@localhost"} {
			for _, password := range []string{"admin", "password", "changeme", "portal", "admin123"} {
				if _, r := e.login(email, password); r.Status == 200 {
					t.Errorf("a fresh install lets %s in with %q", email, password)
				}
			}
		}
		// Signing up with such an address is mailed a verification link, not
		// an "account exists" notice: there was no account.
		e.want(e.register(e.st.Client(), "admin@example.com", "correct horse 1", nil), 200, "register")
		e.waitMail("admin@example.com", subjectVerify, 1)
	})
}

// TestSelfHidesSecrets (V15.3.1): what the API and the GUI show a user
// about their own account never holds a secret: not the password or its
// hash, the TOTP secret, a recovery code, an API key or its hash, or the
// session token or its hash.
func TestSelfHidesSecrets(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		c := e.signUp(email, twoFactorTestPassword, twoFactorTestOrg)
		r := e.do(c, "POST", "/api/v1/self/apitokens", map[string]any{"name": "ci"})
		e.want(r, 200, "create a token")
		key, _ := r.JSON(t)["key"].(string)
		secret, codes := e.activate(c)
		e.alignClock(1)
		c = e.pendingLogin(email)
		e.want(e.passCode(c, e.code(secret, 0)), 200, "second factor")
		org := e.firstOrg(c)
		session := e.cookie(c, "sessionid")
		secrets := map[string]string{
			"password": twoFactorTestPassword, "password hash": "$argon2", "TOTP secret": secret,
			"API key": key, "API key hash": authn.HashToken(key), "session token": session, "session token hash": authn.HashToken(session),
		}
		for i, code := range codes {
			secrets[fmt.Sprintf("recovery code %d", i)] = code
			secrets[fmt.Sprintf("recovery code %d without dashes", i)] = strings.ReplaceAll(code, "-", "")
		}
		var bodies []string
		for _, path := range []string{"/api/v1/self", "/api/v1/self/apitokens", "/api/v1/self/sessions", "/api/v1/self/logs",
			"/api/v1/orgs/" + org, "/api/v1/orgs/" + org + "/admins", "/api/v1/self/update"} {
			r := e.do(c, "GET", path, nil)
			if r.Status != 200 && r.Status != 404 {
				t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
			}
			bodies = append(bodies, path+": "+string(r.Body))
		}
		for _, path := range []string{"/account", "/orgs/" + org, "/orgs/" + org + "/admins"} {
			status, _, body := e.page(c, path)
			if status != 200 {
				t.Errorf("GET %s: %d", path, status)
			}
			bodies = append(bodies, path+": "+body)
		}
		for _, body := range bodies {
			for what, s := range secrets {
				if s != "" && strings.Contains(body, s) {
					t.Errorf("%.40s…: holds the %s", body, what)
				}
			}
		}
	})
}

// TestMassAssignmentIgnored (V15.3.3): fields a client may not set through
// PUT /api/v1/self (id, e-mail address and its verification, privileges,
// two-factor state) and through PUT /api/v1/orgs/{id} (id, owner fields)
// change nothing; the fields it may set still work.
func TestMassAssignmentIgnored(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		other := e.signUp("boss@example.com", "correct horse 1", "Other")
		otherOrg := e.firstOrg(other)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		before := e.self(c)
		r := e.do(c, "PUT", "/api/v1/self", map[string]any{
			"first_name": "Anna", "id": "00000000-0000-4000-8000-000000000001", "email": "eve@evil.example", "email_verified": false,
			"privileges":         []any{map[string]any{"scope": "org", "org_id": otherOrg, "role": "admin"}},
			"two_factor_enabled": true, "two_factor_required": false, "password_expired": false, "created_time": 1, "org_id": otherOrg,
		})
		if r.Status != 200 && r.Status != 400 {
			t.Fatalf("PUT /api/v1/self with extra fields: %d %s", r.Status, r.Body)
		}
		after := e.self(c)
		for _, k := range []string{"id", "email", "email_verified", "two_factor_enabled", "privileges"} {
			if fmt.Sprint(after[k]) != fmt.Sprint(before[k]) {
				t.Errorf("PUT /api/v1/self changed %s: %v → %v", k, before[k], after[k])
			}
		}
		if r.Status == 200 && after["first_name"] != "Anna" {
			t.Errorf("the allowed field was not changed: %v", after["first_name"])
		}
		e.want(e.do(c, "GET", "/api/v1/orgs/"+otherOrg, nil), 404, "the other organization stays closed")

		r = e.do(c, "PUT", "/api/v1/orgs/"+org, map[string]any{"name": "Acme 2", "id": otherOrg, "org_id": otherOrg, "created_time": 1})
		if r.Status != 200 && r.Status != 400 {
			t.Fatalf("PUT /api/v1/orgs/{id} with extra fields: %d %s", r.Status, r.Body)
		}
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 200, "own organization")
		e.wantOrg(other, otherOrg, "Other")
	})
}

// TestLogoutOnEveryPage (V7.4.4): every GUI page behind login, as
// registered in routes.go, offers "Log out" (a POST form with the CSRF
// token); so does the second-factor page of a login.
func TestLogoutOnEveryPage(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", twoFactorTestPassword, "Acme")
	org := e.firstOrg(c)
	admins := e.list(e.do(c, "GET", "/api/v1/orgs/"+org+"/admins", nil))
	if len(admins) == 0 {
		t.Fatal("no administrators listed")
	}
	adminID, _ := admins[0]["id"].(string)
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	pages := regexp.MustCompile(`mux\.Handle\("GET (/[^"]*)", s\.page\(`).FindAllStringSubmatch(string(src), -1)
	if len(pages) < 10 {
		t.Fatalf("found %d signed-in pages in routes.go", len(pages))
	}
	logout := regexp.MustCompile(`(?i)<form method="post" action="/logout"[^>]*>\s*<input type="hidden" name="csrf_token" value="[^"]+">\s*<button[^>]*>[^<]*log out</button>`)
	checked := 0
	for _, m := range pages {
		path := strings.NewReplacer("{$}", "", "{org_id}", org, "{id}", adminID).Replace(m[1])
		if strings.HasSuffix(path, ".png") || path == "/login/two_factor" {
			continue
		}
		status, ct, body := e.page(c, path)
		if status != 200 || !strings.HasPrefix(ct, "text/html") {
			continue // a redirect to where the page's work is (say, no pending change of address)
		}
		checked++
		if !logout.MatchString(body) {
			t.Errorf("GET %s: no Log out", path)
		}
	}
	if checked < 7 {
		t.Errorf("only %d pages answered 200: the test no longer reaches them", checked)
	}
	e.activate(c)
	pending := e.pendingLogin("ann@example.com")
	if _, _, body := e.page(pending, "/login/two_factor"); !logout.MatchString(body) {
		t.Errorf("the second-factor page of a login offers no Log out")
	}
}

// TestDoubleEncodedInput (V1.1.1): input is decoded once, by the HTTP
// layer: an id or a redirect target encoded twice stays encoded and is
// checked as it is, never decoded again past the check.
func TestDoubleEncodedInput(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", "correct horse 1", "Acme")
	org := e.firstOrg(c)
	for _, id := range []string{"%252e%252e%252f", "%252e%252e", "..%252f" + org, "%2525" + org, url.PathEscape(url.PathEscape(org + "/"))} {
		for _, path := range []string{"/api/v1/orgs/" + id, "/api/v1/sites/" + id, "/api/v1/orgs/" + id + "/sites"} {
			if r := e.do(c, "GET", path, nil); r.Status != 404 {
				t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
			}
		}
	}
	// A GUI login's next= is a path of ours, however it was encoded.
	for _, next := range []string{"%2F%2Fevil.example", "%252F%252Fevil.example", "/%5Cevil.example", "%2F%5Cevil.example", "https:%2F%2Fevil.example",
		"%68ttps://evil.example", "/%2F%2Fevil.example", "/\t/evil.example"} {
		client := e.st.Client()
		form := url.Values{"email": {"ann@example.com"}, "password": {"correct horse 1"}, "next": {next}}
		r := sendRaw(t, e.st, client, "POST", "/login", strings.NewReader(form.Encode()), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		loc := r.Header.Get("Location")
		if r.Status != 303 {
			t.Errorf("login with next=%q: %d", next, r.Status)
			continue
		}
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			t.Errorf("login with next=%q redirects to %q", next, loc)
		}
	}
}

// TestGoogleSessionLimits (V7.6.1, V7.1.3): a session from a Google sign-in
// is an ordinary Portal session: it ends after the idle expiry, and, however
// active, at the maximum lifetime counted from the sign-in.
func TestGoogleSessionLimits(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newGoogleEnv(t, spec, d)
		ann := e.signUp("ann@example.com", googlePassword, "")
		e.want(e.link(ann, gAnn), 200, "link")

		idle, r := e.googleLogin(gAnn)
		e.want(r, 200, "Google sign-in")
		active, r := e.googleLogin(gAnn)
		e.want(r, 200, "Google sign-in")
		e.st.Clock.Advance(portal.DefaultSessionExpiry*time.Minute - time.Minute)
		e.want(e.do(active, "GET", "/api/v1/self", nil), 200, "just before the idle expiry")
		e.st.Clock.Advance(2 * time.Minute)
		e.want(e.do(idle, "GET", "/api/v1/self", nil), 401, "idle past the expiry")
		e.want(e.do(active, "GET", "/api/v1/self", nil), 200, "active")

		// Used every 23 hours (within the idle expiry), it still ends at the
		// maximum lifetime from the sign-in.
		since := portal.DefaultSessionExpiry*time.Minute + time.Minute
		for maxLife := portal.DefaultSessionMaxLifetime * 24 * time.Hour; ; {
			e.st.Clock.Advance(23 * time.Hour)
			if since += 23 * time.Hour; since < maxLife {
				e.want(e.do(active, "GET", "/api/v1/self", nil), 200, "active within the maximum lifetime")
				continue
			}
			e.want(e.do(active, "GET", "/api/v1/self", nil), 401, "past the maximum lifetime")
			break
		}
	})
}

// TestUnexpectedErrorsLoggedNotShown (V16.3.4, V16.5.1): a panic and a
// failing database answer a generic message that gives the request id and
// nothing of the cause (no panic value, stack, SQL or file), and the cause
// is logged as an error under that request id.
func TestUnexpectedErrorsLoggedNotShown(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	var logs logBuffer
	h, err := server.WithPanicRoutes(server.Options{Service: st.Service, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Ready: st.DB.Ready})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	signedIn := st.SignUp(t, "ann@example.com", "correct horse 1", "")
	session := st.SessionToken(signedIn)
	get := func(path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: session})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("X-Request-Id"), string(b)
	}
	check := func(what string, status int, id, body, logged string) {
		t.Helper()
		if status < 500 {
			t.Errorf("%s: %d, want a 5xx", what, status)
		}
		for _, leak := range []string{"a test panic", "goroutine", ".go:", "sql", "SQL", "database is closed", "/internal/"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the answer shows %q: %s", what, leak, body)
			}
		}
		if status == 500 && !strings.Contains(body, id) {
			t.Errorf("%s: the answer does not give the request id %s: %s", what, id, body)
		}
		found := false
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") && strings.Contains(l, "request_id="+id) && strings.Contains(l, logged) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error logged with request id %s and %q:\n%s", what, id, logged, logs.String())
		}
	}
	for _, p := range server.PanicPaths {
		status, id, body := get(p)
		check("GET "+p, status, id, body, "a test panic")
	}
	if status, _, _ := get("/api/v1/self"); status != 200 {
		t.Fatalf("GET /api/v1/self with the session: %d", status)
	}
	if err := st.DB.Close(); err != nil {
		t.Fatal(err)
	}
	status, id, body := get("/api/v1/self")
	check("GET /api/v1/self, database closed", status, id, body, "request failed")
}

// tokenRecorder carries the calls to the sign-in provider and keeps the
// tokens of its answers.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != "POST" {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		r.mu.Lock()
		for _, k := range []string{"access_token", "id_token", "refresh_token"} {
			if s, _ := m[k].(string); len(s) >= 8 {
				r.tokens = append(r.tokens, s)
			}
		}
		r.mu.Unlock()
	}
	return res, nil
}

// TestGoogleTokensStayInside (V10.1.1): the provider's access, ID and
// refresh tokens are used where they arrive and go nowhere else: not into
// an answer, a cookie, a page, a mail or a log line.
func TestGoogleTokensStayInside(t *testing.T) {
	spec := mistspec.Load(t)
	p := oidctest.Start(t, gAccount...)
	rec := &tokenRecorder{}
	var logs logBuffer // the service's and the server's log
	st := testenv.NewStackWith(t, testenv.OpenDB(t, store.SQLite), testenv.StackOptions{Log: &logs, Google: func(redirect string) oidclogin.Config {
		p.RegisterRedirect(redirect)
		return oidclogin.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Issuer: p.Issuer, RedirectURL: redirect, Transport: rec}
	}})
	e := &googleEnv{apiEnv: &apiEnv{t: t, st: st, spec: spec}, p: p}

	var seen []string
	keep := func(r testenv.Response) {
		seen = append(seen, string(r.Body), strings.Join(r.Header.Values("Set-Cookie"), "\n"), r.Header.Get("Location"))
	}
	ann := e.signUp("ann@example.com", googlePassword, "Acme")
	r := e.link(ann, gAnn)
	e.want(r, 200, "link")
	keep(r)
	g, r := e.googleLogin(gAnn)
	e.want(r, 200, "Google sign-in")
	keep(r)
	for _, c := range []*http.Client{ann, g} {
		for _, path := range []string{"/api/v1/self", "/api/v1/self/sessions", "/api/v1/self/logs", "/api/v1/self/oauth/google"} {
			keep(e.do(c, "GET", path, nil))
		}
		_, _, body := e.page(c, "/account")
		seen = append(seen, body)
	}
	e.waitMail("ann@example.com", subjectGoogleLinked, 1)
	for _, m := range st.SMTP.Messages() {
		seen = append(seen, string(m.Raw))
	}
	if !strings.Contains(logs.String(), `"msg":"request"`) && !strings.Contains(logs.String(), "msg=request") {
		t.Fatalf("the log holds no request lines: %q", logs.String())
	}
	seen = append(seen, logs.String())

	rec.mu.Lock()
	tokens := rec.tokens
	rec.mu.Unlock()
	if len(tokens) < 4 { // two exchanges, each an access and an ID token
		t.Fatalf("recorded %d provider tokens, want at least 4", len(tokens))
	}
	for _, tok := range tokens {
		for _, s := range seen {
			if strings.Contains(s, tok) || strings.Contains(s, tok[:len(tok)/2]) {
				t.Errorf("a provider token (%.12s…) reached %.60q", tok, s)
			}
		}
	}
}

// TestPasswordMinimumLength (V6.2.1): 7 characters are refused and 8 are
// enough, at sign-up and when changing the password.
func TestPasswordMinimumLength(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		r := e.register(e.st.Client(), "ann@example.com", "Zq8#vK2", nil)
		if r.Status != 400 || !strings.Contains(e.detail(r), "password") {
			t.Errorf("sign-up with 7 characters: %d %s", r.Status, r.Body)
		}
		c := e.signUp("ann@example.com", "Zq8#vK2m", "")
		r = e.do(c, "PUT", "/api/v1/self", map[string]any{"password": "Wd4%pL9", "old_password": "Zq8#vK2m"})
		if r.Status != 400 || !strings.Contains(e.detail(r), "8") {
			t.Errorf("change to 7 characters: %d %s", r.Status, r.Body)
		}
		e.want(e.do(c, "PUT", "/api/v1/self", map[string]any{"password": "Wd4%pL9x", "old_password": "Zq8#vK2m"}), 200, "change to 8 characters")
		_, r = e.login("ann@example.com", "Wd4%pL9x")
		e.want(r, 200, "login with the 8-character password")
	})
}

// TestAPIKeyIsNoSession (V7.2.2, V14.2.1): an API key works only in the
// Authorization header: not as the session cookie, and never from the URL.
func TestAPIKeyIsNoSession(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	c := e.signUp("ann@example.com", "correct horse 1", "Acme")
	r := e.do(c, "POST", "/api/v1/self/apitokens", map[string]any{"name": "ci"})
	e.want(r, 200, "create a token")
	key, _ := r.JSON(t)["key"].(string)
	anon := e.st.Client()
	e.want(e.raw(anon, "GET", "/api/v1/self", "", map[string]string{"Authorization": "Token " + key}), 200, "the key in its header")
	e.want(e.do(e.clientWith(map[string]string{"sessionid": key}), "GET", "/api/v1/self", nil), 401, "the key as the session cookie")
	for _, q := range []string{"token=", "apikey=", "api_key=", "key=", "access_token=", "sessionid="} {
		e.want(e.do(anon, "GET", "/api/v1/self?"+q+url.QueryEscape(key), nil), 401, "the key in the URL ("+q+")")
	}
	if status, _, _ := e.page(e.clientWith(map[string]string{"sessionid": key}), "/account"); status == 200 {
		t.Error("the key as the session cookie opens the GUI")
	}
}
