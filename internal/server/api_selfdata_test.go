package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

func init() {
	mistRoutes["GET /api/v1/self/login_failures"] = true
}

// TestLoginFailuresAPI: failed logins on one's own account, in Mist's
// shape (GET /api/v1/self/login_failures) with our list, and on My
// Account: counted, with address and browser, most recent first, never
// the password tried; another account's and an unknown address's are not
// shown; purged after 90 days.
func TestLoginFailuresAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const pw = "failures horse 11"
		ann := e.signUp("ann@example.com", pw, "")
		bob := e.signUp("bob@example.com", pw, "")
		empty := e.do(ann, "GET", "/api/v1/self/login_failures", nil)
		e.want(empty, 200, "no failures yet")
		if m := empty.JSON(t); m["num_attempts"] != 0.0 || m["last_failure_at"] != nil || len(m["failures"].([]any)) != 0 {
			t.Errorf("before any failure: %s", empty.Body)
		}
		agents := []string{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0", "python-requests/2.31"}
		for i, ua := range agents {
			e.st.Clock.Advance(time.Minute)
			body := `{"email": "ann@example.com", "password": "guess number ` + string(rune('1'+i)) + `"}`
			r := sendRaw(t, e.st, e.st.Client(), "POST", "/api/v1/login", strings.NewReader(body), true, map[string]string{"User-Agent": ua})
			e.want(r, 400, "wrong password")
		}
		e.want(e.do(e.st.Client(), "POST", "/api/v1/login", map[string]any{"email": "nobody@example.com", "password": "guess"}), 400, "unknown address")
		last := e.st.Clock.Now()

		r := e.do(ann, "GET", "/api/v1/self/login_failures", nil)
		e.want(r, 200, "ann's failures")
		m := r.JSON(t)
		if m["email"] != "ann@example.com" || m["num_attempts"] != 3.0 || m["last_failure_at"] != float64(last.Unix()) {
			t.Errorf("summary: %s", r.Body)
		}
		if got := toStrings(m["user_agents"]); strings.Join(got, "|") != agents[2]+"|"+agents[1]+"|"+agents[0] {
			t.Errorf("user_agents %q, want the three, most recent first", got)
		}
		if got := toStrings(m["scr_ips"]); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("scr_ips %q", got)
		}
		fs := m["failures"].([]any)
		if len(fs) != 3 || fs[0].(map[string]any)["reason"] != "wrong password" || fs[0].(map[string]any)["timestamp"] != float64(last.Unix()) {
			t.Errorf("failures: %v", fs)
		}
		if strings.Contains(string(r.Body), "guess number") {
			t.Errorf("the answer holds a password that was tried: %s", r.Body)
		}
		if m := e.do(bob, "GET", "/api/v1/self/login_failures", nil).JSON(t); m["num_attempts"] != 0.0 {
			t.Errorf("bob sees %v failures", m["num_attempts"])
		}

		// My Account shows them.
		page := pageText(t, e.st, ann, "/account")
		for _, want := range []string{`id="loginfailures"`, "3 failed logins on your account in the last 90 days", "wrong password", "Firefox"} {
			if !strings.Contains(page, want) {
				t.Errorf("My Account does not show %q", want)
			}
		}
		if !strings.Contains(pageText(t, e.st, bob, "/account"), "No failed logins on your account in the last 90 days.") {
			t.Errorf("bob's My Account does not say there are none")
		}

		// Gone after 90 days.
		e.st.Clock.Advance(90*24*time.Hour + time.Minute)
		rep, err := e.st.Service.PurgeRetention(context.Background())
		if err != nil || rep.LoginFailures != 3 {
			t.Errorf("purge after 90 days: %v %v, want the 3 failures", rep, err)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
