package server_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

const (
	uaFirefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
)

// uaTransport sends every request with a given User-Agent.
type uaTransport struct{ ua string }

func (t uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.ua)
	return http.DefaultTransport.RoundTrip(r)
}

// loginAs logs in with a new client that sends the User-Agent ua.
func (e *apiEnv) loginAs(ua, email, password string) *http.Client {
	e.t.Helper()
	c := e.st.Client()
	c.Transport = uaTransport{ua}
	e.want(e.do(c, "POST", "/api/v1/login", map[string]any{"email": email, "password": password}), 200, "login with "+ua)
	return c
}

// sessions returns GET /api/v1/self/sessions.
func (e *apiEnv) sessions(c *http.Client) []map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self/sessions", nil)
	e.want(r, 200, "GET /api/v1/self/sessions")
	return e.list(r)
}

// sessionBy returns the listed session whose browser is browser.
func sessionBy(t *testing.T, list []map[string]any, browser string) map[string]any {
	t.Helper()
	for _, s := range list {
		if s["browser"] == browser {
			return s
		}
	}
	t.Fatalf("no session of %q in %v", browser, list)
	return nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestAPISessions: the sessions list shows each login with its browser,
// OS, address, times and the current one marked, and never a token; a
// session is signed out by id (the current one too), another user's or a
// malformed id is 404 and changes nothing, every other session can be
// signed out at once, and every change needs the CSRF header.
func TestAPISessions(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "sessions@example.com", "browser-kettle-lamp"
		goClient := e.signUp(email, password, "") // Go-http-client
		loginTime := e.st.Clock.Now().Unix()
		ff := e.loginAs(uaFirefoxWindows, email, password)
		e.st.Clock.Advance(2 * time.Minute)
		iphone := e.loginAs(uaSafariIPhone, email, password)

		list := e.sessions(ff)
		if len(list) != 3 {
			t.Fatalf("3 logins, %d sessions listed: %v", len(list), list)
		}
		want := map[string]struct {
			os      string
			current bool
		}{
			"Firefox 127":    {"Windows", true},
			"Safari 17.4":    {"iOS 17.4", false},
			"Go HTTP client": {"", false},
		}
		for _, s := range list {
			w, ok := want[s["browser"].(string)]
			if !ok {
				t.Errorf("unexpected session %v", s)
				continue
			}
			if s["os"] != w.os || s["current"] != w.current || s["ip"] != "127.0.0.1" {
				t.Errorf("session %v: want os %q, current %v, ip 127.0.0.1", s, w.os, w.current)
			}
			if id, _ := s["id"].(string); !uuidRE.MatchString(id) {
				t.Errorf("session id %q is not a UUID", s["id"])
			}
			for _, k := range []string{"created_time", "last_seen_time"} {
				if v, ok := s[k].(float64); !ok || int64(v) < loginTime || int64(v) > e.st.Clock.Now().Unix() {
					t.Errorf("session %v: %s = %v, want epoch seconds since the login at %d", s["browser"], k, s[k], loginTime)
				}
			}
		}
		if list[0]["current"] != true {
			t.Errorf("the current session is not listed first: %v", list)
		}
		iphoneSess := sessionBy(t, list, "Safari 17.4")
		if c := sessionBy(t, list, "Safari 17.4")["created_time"].(float64); int64(c) != loginTime+120 {
			t.Errorf("iPhone session created_time = %v, want %d", c, loginTime+120)
		}
		// No token or CSRF secret in the answer.
		body := e.do(ff, "GET", "/api/v1/self/sessions", nil).Body
		for _, c := range []*http.Client{goClient, ff, iphone} {
			for _, name := range []string{"sessionid", "csrftoken"} {
				if v := e.cookie(c, name); v == "" || bytes.Contains(body, []byte(v)) {
					t.Fatalf("the sessions list holds the %s cookie (or the cookie is missing): %s", name, body)
				}
			}
		}

		// Last seen moves when the session is used (at most once a minute).
		e.st.Clock.Advance(5 * time.Minute)
		e.self(iphone)
		seen := sessionBy(t, e.sessions(ff), "Safari 17.4")["last_seen_time"].(float64)
		if int64(seen) != e.st.Clock.Now().Unix() {
			t.Errorf("iPhone last_seen_time = %v after a request at %d", seen, e.st.Clock.Now().Unix())
		}

		// Another user, whose session must stay out of reach.
		other := e.signUp("someone.else@example.com", "other-password", "")
		otherList := e.sessions(other)
		if len(otherList) != 1 || otherList[0]["current"] != true {
			t.Fatalf("the other user sees %v, want only their own session", otherList)
		}
		foreignID := otherList[0]["id"].(string)

		// CSRF: without the header nothing is signed out.
		for _, path := range []string{"/api/v1/self/sessions/" + iphoneSess["id"].(string), "/api/v1/self/sessions"} {
			r := e.raw(ff, "DELETE", path, "", nil)
			e.want(r, 403, "DELETE "+path+" without X-CSRFToken")
			if !strings.Contains(e.detail(r), "CSRF") {
				t.Errorf("403 detail %q does not mention CSRF", e.detail(r))
			}
		}
		r := e.raw(ff, "DELETE", "/api/v1/self/sessions/"+iphoneSess["id"].(string), "", map[string]string{"X-CSRFToken": "wrong"})
		e.want(r, 403, "DELETE with a wrong X-CSRFToken")
		if len(e.sessions(ff)) != 3 {
			t.Fatal("a DELETE refused for CSRF signed a session out")
		}

		// Not found: another user's session, an unknown id, malformed ids.
		for _, id := range []string{foreignID, "6f1c2d4e-1111-4222-8333-944445555666", "not-a-uuid", strings.ToUpper(foreignID), foreignID + "0", "%20"} {
			r := e.do(ff, "DELETE", "/api/v1/self/sessions/"+id, nil)
			e.want(r, 404, "DELETE session "+id)
			if e.detail(r) != "session not found" {
				t.Errorf("DELETE %s: detail %q", id, e.detail(r))
			}
		}
		e.self(other) // still signed in
		if len(e.sessions(ff)) != 3 {
			t.Fatal("a 404 DELETE signed a session out")
		}

		// Sign out the iPhone: its cookie no longer works, ours does.
		r = e.do(ff, "DELETE", "/api/v1/self/sessions/"+iphoneSess["id"].(string), nil)
		e.want(r, 200, "sign out the iPhone")
		if n := r.JSON(t)["signed_out"]; n != 1.0 {
			t.Errorf("signed_out = %v, want 1", n)
		}
		e.want(e.do(iphone, "GET", "/api/v1/self", nil), 401, "the signed-out iPhone")
		e.self(ff)
		if list := e.sessions(ff); len(list) != 2 {
			t.Errorf("after signing out one of 3 sessions: %v", list)
		}
		// Twice: gone already.
		e.want(e.do(ff, "DELETE", "/api/v1/self/sessions/"+iphoneSess["id"].(string), nil), 404, "sign out the iPhone again")

		// The audit log has it, with the browser and address.
		found := false
		for _, x := range e.do(ff, "GET", "/api/v1/self/logs", nil).JSON(t)["results"].([]any) {
			en := x.(map[string]any)
			if b, _ := en["before"].(map[string]any); en["message"] == "Signed out a session" && b["browser"] == "Safari 17.4" && b["os"] == "iOS 17.4" && b["ip"] == "127.0.0.1" {
				found = true
			}
		}
		if !found {
			t.Error("no audit entry \"Signed out a session\" with the iPhone's browser, OS and address")
		}

		// Sign out all others: the Go client goes, this one and the other
		// user's stay.
		third := e.loginAs(uaSafariIPhone, email, password)
		r = e.do(ff, "DELETE", "/api/v1/self/sessions", map[string]any{"password": password})
		e.want(r, 200, "sign out all other sessions")
		if n := r.JSON(t)["signed_out"]; n != 2.0 {
			t.Errorf("signed_out = %v, want 2", n)
		}
		for _, c := range []*http.Client{goClient, third} {
			e.want(e.do(c, "GET", "/api/v1/self", nil), 401, "a session signed out with all others")
		}
		if list := e.sessions(ff); len(list) != 1 || list[0]["current"] != true {
			t.Errorf("after signing out all others: %v", list)
		}
		e.self(other)
		r = e.do(ff, "DELETE", "/api/v1/self/sessions", map[string]any{"password": password})
		e.want(r, 200, "sign out all others with none left")
		if n := r.JSON(t)["signed_out"]; n != 0.0 {
			t.Errorf("signed_out = %v, want 0", n)
		}

		// Signing out the current session logs out.
		own := e.sessions(ff)[0]["id"].(string)
		r = e.do(ff, "DELETE", "/api/v1/self/sessions/"+own, nil)
		e.want(r, 200, "sign out the current session")
		if e.cookie(ff, "sessionid") != "" {
			t.Error("the session cookie was not cleared after signing out the current session")
		}
		e.want(e.do(e.clientWith(map[string]string{"sessionid": "x"}), "GET", "/api/v1/self/sessions", nil), 401, "list without a session")
		e.want(e.do(ff, "GET", "/api/v1/self/sessions", nil), 401, "list after signing out the current session")
	})
}
