package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/secevent"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestSecurityEventsLogged (ASVS 5.0 V16.3): the log of a real Portal (one
// logger for the service and the HTTP server, as portal serve has) holds
// one structured security event per login, failed login (unknown address or
// wrong password, which the client is not told apart), wrong second-factor
// code, refused API token, 403, CSRF refusal, cross-origin refusal, rate
// limit hit, password change, two-factor authentication on and off and
// e-mail change request: each with its stable name, the request id the
// request came with, the client address, the user id when known and a
// reason where there is one. No password, code, token, cookie value or
// key sent in any request appears anywhere in the log, nor an e-mail
// address in a security event.
func TestSecurityEventsLogged(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		var logs logBuffer
		st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Log: &logs})
		e := &apiEnv{t: t, st: st, spec: spec}
		var secrets []string // everything secret that a request carried
		secret := func(s string) string { secrets = append(secrets, s); return s }
		n := 0
		// send sends a JSON request with an X-Request-Id of its own and
		// returns the answer and that id.
		send := func(c *http.Client, method, path, body string, hdr map[string]string) (testenv.Response, string) {
			t.Helper()
			n++
			id := fmt.Sprintf("events-%d", n)
			h := map[string]string{"X-Request-Id": id}
			for k, v := range hdr {
				h[k] = v
			}
			r := sendRaw(t, st, c, method, path, strings.NewReader(body), body != "", h)
			if got := r.Header.Get("X-Request-Id"); got != id {
				t.Fatalf("%s %s: X-Request-Id %q, want %q", method, path, got, id)
			}
			return r, id
		}
		csrf := func(c *http.Client) map[string]string {
			return map[string]string{"X-CSRFToken": secret(e.cookie(c, "csrftoken"))}
		}
		type want struct {
			event, requestID, userID, reason string
		}
		var wants []want
		expect := func(r testenv.Response, status int, w want, what string) {
			t.Helper()
			if r.Status != status {
				t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
			}
			wants = append(wants, w)
		}

		const email = "ann.events@example.com"
		password := secret("first kettle lamp 7")
		ann := e.signUp(email, password, "Acme")
		secret(e.cookie(ann, "sessionid"))
		annID, org := e.userID(email), e.firstOrg(ann)

		// Failed logins: a wrong password, an unknown address (the same
		// answer), a malformed request.
		anon := st.Client()
		r1, id := send(anon, "POST", "/api/v1/login", `{"email":"`+email+`","password":"`+secret("wrong kettle Q7!")+`"}`, nil)
		expect(r1, 400, want{secevent.LoginFailed.Name, id, annID, "wrong_password"}, "wrong password")
		r2, id := send(anon, "POST", "/api/v1/login", `{"email":"nobody.events@example.com","password":"`+secret("unknown kettle Z3?")+`"}`, nil)
		expect(r2, 400, want{secevent.LoginFailed.Name, id, "", "unknown_user"}, "unknown address")
		r, id := send(st.Client(), "POST", "/api/v1/login", `{"email":"`+email+`","password":"`+password+`"}`, nil)
		expect(r, 200, want{secevent.LoginSucceeded.Name, id, annID, ""}, "a login")
		if string(r1.Body) != string(r2.Body) {
			t.Errorf("the answers tell a wrong password (%s) from an unknown address (%s)", r1.Body, r2.Body)
		}

		// CSRF and cross-origin refusals.
		r, id = send(ann, "POST", "/api/v1/orgs", `{"name":"Forged"}`, nil)
		expect(r, 403, want{secevent.CSRFRefused.Name, id, annID, "missing_token"}, "no CSRF token")
		r, id = send(ann, "POST", "/api/v1/orgs", `{"name":"Forged"}`, map[string]string{"X-CSRFToken": secret("forged-csrf-token-0123456789")})
		expect(r, 403, want{secevent.CSRFRefused.Name, id, annID, "wrong_token"}, "a wrong CSRF token")
		hdr := csrf(ann)
		hdr["Sec-Fetch-Site"] = "cross-site"
		r, id = send(ann, "POST", "/api/v1/orgs", `{"name":"Forged"}`, hdr)
		expect(r, 403, want{secevent.CrossOriginRefused.Name, id, "", ""}, "cross-site")

		// API tokens: an unknown key is refused.
		_, key := e.tokenCreate(ann, "events")
		secret(key)
		r, id = send(http.DefaultClient, "GET", "/api/v1/self", "", map[string]string{"Authorization": "Token " + secret("Zq9unknownTokenKey0123456789abcdefghijklmno")})
		expect(r, 401, want{secevent.APITokenRefused.Name, id, "", "unknown"}, "unknown API token")

		// 403: an Observer changes the organization (with a token: the
		// event names the token's user).
		bob := e.signUp("bob.events@example.com", secret("bobs kettle lamp 9"), "")
		bobID := e.userID("bob.events@example.com")
		e.grant(bobID, org, "", "read")
		_, bobKey := e.tokenCreate(bob, "observer")
		secret(bobKey)
		r, id = send(http.DefaultClient, "PUT", "/api/v1/orgs/"+org, `{"name":"Renamed"}`, map[string]string{"Authorization": "Token " + bobKey})
		expect(r, 403, want{secevent.Forbidden.Name, id, bobID, ""}, "an Observer renames the organization")

		// An e-mail change request.
		r, id = send(ann, "POST", "/api/v1/self/update", `{"email":"ann.new.events@example.com","password":"`+password+`"}`, csrf(ann))
		expect(r, 200, want{secevent.EmailChangeRequested.Name, id, annID, ""}, "email change request")
		if r, _ = send(ann, "DELETE", "/api/v1/self/update", "", csrf(ann)); r.Status != 200 {
			t.Fatalf("cancel the email change: %d %s", r.Status, r.Body)
		}

		// Two-factor authentication on, a wrong code at login, and off
		// (with a recovery code).
		tfSecret := secret(e.enrol(ann))
		e.alignClock(1)
		r, id = send(ann, "POST", "/api/v1/self/two_factor/verify", `{"two_factor":"`+secret(e.code(tfSecret, 0))+`"}`, csrf(ann))
		expect(r, 200, want{secevent.TwoFactorEnabled.Name, id, annID, ""}, "verify two-factor authentication")
		var recovery []string
		if err := json.Unmarshal(r.Body, &struct {
			Codes *[]string `json:"recovery_codes"`
		}{&recovery}); err != nil || len(recovery) == 0 {
			t.Fatalf("no recovery codes: %s", r.Body)
		}
		for _, c := range recovery {
			secret(c)
		}
		pending, lr := e.login(email, password)
		e.want(lr, 200, "password login of a 2FA account")
		secret(e.cookie(pending, "sessionid"))
		wrong := e.code(tfSecret, 20)
		if wrong == e.code(tfSecret, 0) || wrong == e.code(tfSecret, 1) || wrong == e.code(tfSecret, -1) {
			wrong = e.code(tfSecret, 21)
		}
		r, id = send(pending, "POST", "/api/v1/login/two_factor", `{"two_factor":"`+secret(wrong)+`"}`, csrf(pending))
		expect(r, 400, want{secevent.SecondFactorFailed.Name, id, annID, "wrong_code"}, "a wrong code")
		r, id = send(ann, "PUT", "/api/v1/self", `{"enable_two_factor":false,"current_password":"`+password+`","two_factor":"`+recovery[0]+`"}`, csrf(ann))
		expect(r, 200, want{secevent.TwoFactorDisabled.Name, id, annID, ""}, "turn two-factor authentication off")

		// A password change.
		newPassword := secret("second kettle lamp 8")
		r, id = send(ann, "PUT", "/api/v1/self", `{"password":"`+newPassword+`","old_password":"`+password+`"}`, csrf(ann))
		expect(r, 200, want{secevent.PasswordChanged.Name, id, annID, ""}, "change the password")

		// Wrong codes lock the second factor: the fifth is refused with
		// 429, and logged as a wrong code and a lockout.
		tfSecret, _ = e.activate(ann)
		secret(tfSecret)
		pending, lr = e.login(email, newPassword)
		e.want(lr, 200, "password login of a 2FA account")
		secret(e.cookie(pending, "sessionid"))
		for i := range 5 {
			wrong := e.code(tfSecret, 30+i)
			r, id = send(pending, "POST", "/api/v1/login/two_factor", `{"two_factor":"`+secret(wrong)+`"}`, csrf(pending))
			if i < 4 && r.Status != 400 {
				t.Fatalf("wrong code %d: status %d, want 400: %s", i+1, r.Status, r.Body)
			}
		}
		expect(r, 429, want{secevent.Lockout.Name, id, annID, ""}, "the fifth wrong code")

		// A rate limit: failed logins lock the address.
		var locked testenv.Response
		for range 10 {
			if locked, id = send(anon, "POST", "/api/v1/login", `{"email":"locked.events@example.com","password":"`+secret("locked kettle W4#")+`"}`, nil); locked.Status == 429 {
				break
			}
		}
		expect(locked, 429, want{secevent.RateLimited.Name, id, "", "too many failed logins"}, "failed logins until locked")

		// What the log holds.
		out := logs.String()
		events := map[string][]map[string]any{} // by request id
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("a log line is not JSON: %v: %s", err, sc.Bytes())
			}
			if rec["msg"] != "security event" {
				continue
			}
			ev, _ := rec["event"].(string)
			if !strings.HasPrefix(ev, "security.") {
				t.Errorf("a security event without a name: %v", rec)
			}
			if rec["client"] != "127.0.0.1" {
				t.Errorf("%s: client %v, want the client's address 127.0.0.1", ev, rec["client"])
			}
			for k, v := range rec {
				if s, ok := v.(string); ok && strings.Contains(s, "@") {
					t.Errorf("%s: %s holds an email address: %q", ev, k, s)
				}
			}
			rid, _ := rec["request_id"].(string)
			events[rid] = append(events[rid], rec)
		}
		for _, w := range wants {
			got := events[w.requestID]
			var match map[string]any
			for _, rec := range got {
				if rec["event"] == w.event {
					match = rec
				}
			}
			if match == nil {
				t.Errorf("request %s: no %s event; its events: %v", w.requestID, w.event, got)
				continue
			}
			if uid, _ := match["user_id"].(string); uid != w.userID {
				t.Errorf("%s (request %s): user_id %q, want %q", w.event, w.requestID, uid, w.userID)
			}
			if reason, _ := match["reason"].(string); w.reason != "" && !strings.HasPrefix(reason, w.reason) {
				t.Errorf("%s (request %s): reason %q, want %q", w.event, w.requestID, reason, w.reason)
			}
			if n := 1 + btoi(w.event == secevent.Lockout.Name); len(got) != n { // a lockout comes with the wrong code that caused it
				t.Errorf("request %s: %d security events, want %d: %v", w.requestID, len(got), n, got)
			}
		}
		for _, s := range secrets {
			found := strings.Contains(out, s)
			if len(s) < 8 { // a 6-digit code: not as digits of a time or an id
				found = regexp.MustCompile(`(^|[^0-9.:])` + regexp.QuoteMeta(s) + `([^0-9]|$)`).MatchString(out)
			}
			if s != "" && found {
				t.Errorf("the log holds a secret sent in a request: %q", s)
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
