package server_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"portal"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// The password policy and recovery paths are Mist's: their answers are
// validated against the Mist document.
func init() {
	for _, r := range []string{"GET /api/v1/orgs/{org_id}/setting", "PUT /api/v1/orgs/{org_id}/setting",
		"POST /api/v1/recover", "POST /api/v1/recover/verify/{token}"} {
		mistRoutes[r] = true
	}
}

const (
	subjectRecover         = "Reset your Portal password"
	subjectPasswordChanged = "Your Portal password was changed"
)

// setPolicy sends PUT /api/v1/orgs/{org}/setting {"password_policy": p}.
func (e *apiEnv) setPolicy(c *http.Client, org string, p map[string]any) testenv.Response {
	e.t.Helper()
	return e.do(c, "PUT", "/api/v1/orgs/"+org+"/setting", map[string]any{"password_policy": p})
}

// policy returns the organization's password policy.
func (e *apiEnv) policy(c *http.Client, org string) map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/orgs/"+org+"/setting", nil)
	e.want(r, 200, "GET setting")
	return r.JSON(e.t)["password_policy"].(map[string]any)
}

// changePassword sends PUT /api/v1/self {"password", "old_password"} (no
// old_password when old is empty).
func (e *apiEnv) changePassword(c *http.Client, password, old string) testenv.Response {
	e.t.Helper()
	body := map[string]any{"password": password}
	if old != "" {
		body["old_password"] = old
	}
	return e.do(c, "PUT", "/api/v1/self", body)
}

// policyErrors returns the "errors" list of a refused password.
func (e *apiEnv) policyErrors(r testenv.Response) []string {
	e.t.Helper()
	var out []string
	list, _ := r.JSON(e.t)["errors"].([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// recoverToken returns the token of the n-th recovery mail to addr.
func (e *apiEnv) recoverToken(addr string, n int) string {
	e.t.Helper()
	return e.linkToken(e.waitMail(addr, subjectRecover, n), "/recover/verify?token=")
}

// countMails counts the mails to addr with the subject received so far.
func (e *apiEnv) countMails(addr, subject string) int {
	n := 0
	for _, m := range e.mailsTo(addr) {
		if m.Subject == subject {
			n++
		}
	}
	return n
}

// auditMessages returns the messages of the caller's own audit entries.
func (e *apiEnv) auditEntries(c *http.Client) []map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self/logs?duration=1w", nil)
	e.want(r, 200, "self logs")
	var out []map[string]any
	for _, x := range r.JSON(e.t)["results"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

// TestAPIPasswordPolicySetting: a Super User reads and changes the policy
// (freshness accepted as expiry_in_days), values out of range are refused
// whole, others in the organization get 403 and strangers 404, and every
// change is audit-logged with before and after.
func TestAPIPasswordPolicySetting(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(ann)

		r := e.do(ann, "GET", "/api/v1/orgs/"+org+"/setting", nil)
		e.want(r, 200, "GET setting")
		if m := r.JSON(t); m["org_id"] != org || m["id"] != org {
			t.Errorf("setting ids: %s", r.Body)
		}
		defaults := map[string]any{"enabled": false, "min_length": 8.0, "requires_special_char": false, "requires_two_factor_auth": false,
			"expiry_in_days": 0.0, "history_count": 0.0, "block_common": false, "min_character_classes": 0.0, "two_factor_grace_days": 0.0}
		if p := e.policy(ann, org); !mapsEqual(p, defaults) {
			t.Errorf("default policy = %v, want %v", p, defaults)
		}

		r = e.setPolicy(ann, org, map[string]any{"enabled": true, "min_length": 12, "requires_special_char": true, "freshness": 90,
			"history_count": 3, "block_common": true, "min_character_classes": 3})
		e.want(r, 200, "PUT setting")
		set := map[string]any{"enabled": true, "min_length": 12.0, "requires_special_char": true, "requires_two_factor_auth": false,
			"expiry_in_days": 90.0, "history_count": 3.0, "block_common": true, "min_character_classes": 3.0, "two_factor_grace_days": 0.0}
		if p := r.JSON(t)["password_policy"].(map[string]any); !mapsEqual(p, set) {
			t.Errorf("PUT answer policy = %v, want %v (freshness emitted as expiry_in_days)", p, set)
		}
		if p := e.policy(ann, org); !mapsEqual(p, set) {
			t.Errorf("policy after PUT = %v, want %v", p, set)
		}

		// Out of range, wrong types, contradictions: 400, nothing changed.
		for _, bad := range []struct {
			policy map[string]any
			want   string
		}{
			{map[string]any{"min_length": 7}, "min_length"},
			{map[string]any{"min_length": -12}, "min_length"},
			{map[string]any{"min_length": 0}, "min_length"},
			{map[string]any{"min_length": 33}, "at most 32 characters"},
			{map[string]any{"expiry_in_days": -1}, "expiry_in_days"},
			{map[string]any{"freshness": 3651}, "expiry_in_days"},
			{map[string]any{"expiry_in_days": 30, "freshness": 60}, "freshness"},
			{map[string]any{"history_count": 25}, "history_count"},
			{map[string]any{"history_count": -3}, "history_count"},
			{map[string]any{"min_character_classes": 5}, "min_character_classes"},
			{map[string]any{"min_character_classes": -1}, "min_character_classes"},
			{map[string]any{"min_length": "12"}, "min_length"},
			{map[string]any{"min_length": 12.5}, "min_length"},
			{map[string]any{"enabled": "yes"}, "enabled"},
			{map[string]any{"enabled": false, "min_length": 40}, "min_length"}, // refused whole
		} {
			r := e.setPolicy(ann, org, bad.policy)
			e.want(r, 400, "bad policy "+string(mustJSON(t, bad.policy)))
			if !strings.Contains(e.detail(r), bad.want) {
				t.Errorf("policy %v: detail %q does not name %q", bad.policy, e.detail(r), bad.want)
			}
		}
		if p := e.policy(ann, org); !mapsEqual(p, set) {
			t.Errorf("a refused PUT changed the policy: %v", p)
		}

		// A partial PUT changes only what it names; one without a policy
		// changes nothing.
		r = e.setPolicy(ann, org, map[string]any{"requires_special_char": false, "expiry_in_days": 0})
		e.want(r, 200, "partial PUT")
		set["requires_special_char"], set["expiry_in_days"] = false, 0.0
		if p := e.policy(ann, org); !mapsEqual(p, set) {
			t.Errorf("after a partial PUT = %v, want %v", p, set)
		}
		e.want(e.do(ann, "PUT", "/api/v1/orgs/"+org+"/setting", map[string]any{"name": "ignored"}), 200, "PUT without password_policy")
		if p := e.policy(ann, org); !mapsEqual(p, set) {
			t.Errorf("a PUT without password_policy changed it: %v", p)
		}

		// Network Admins and Observers of the organization: 403; others: 404.
		bob := e.signUp("bob@example.com", "bobs garden kettle", "")
		e.grant(e.self(bob)["admin_id"].(string), org, "", portal.RoleWrite)
		carol := e.signUp("carol@example.com", "garden kettle lamp 3", "")
		e.grant(e.self(carol)["admin_id"].(string), org, "", portal.RoleRead)
		dave := e.signUp("dave@example.com", "fourth kettle lamp", "Dave Inc")
		for _, c := range []struct {
			client *http.Client
			status int
		}{{bob, 403}, {carol, 403}, {dave, 404}} {
			r := e.do(c.client, "GET", "/api/v1/orgs/"+org+"/setting", nil)
			e.want(r, c.status, "GET setting as a non-Super User")
			r = e.setPolicy(c.client, org, map[string]any{"min_length": 8, "enabled": false})
			e.want(r, c.status, "PUT setting as a non-Super User")
			if c.status == 403 && !strings.Contains(e.detail(r), "Super User") {
				t.Errorf("403 detail does not say who may: %s", r.Body)
			}
			// Even a malformed body is refused as forbidden.
			r = e.raw(c.client, "PUT", "/api/v1/orgs/"+org+"/setting", `{"password_policy": {"min_length": -1}}`, map[string]string{"X-CSRFToken": e.cookie(c.client, "csrftoken")})
			e.want(r, c.status, "bad PUT as a non-Super User")
		}
		e.want(e.do(e.st.Client(), "GET", "/api/v1/orgs/"+org+"/setting", nil), 401, "anonymous GET setting")
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+portal.NilID+"/setting", nil), 404, "unknown org")
		if p := e.policy(ann, org); !mapsEqual(p, set) {
			t.Errorf("others changed the policy: %v", p)
		}

		// Two changes, two audit entries, with before and after.
		var audited []map[string]any
		for _, en := range e.auditEntries(ann) {
			if en["message"] == "Updated password policy of Acme" {
				audited = append(audited, en)
			}
		}
		if len(audited) != 2 {
			t.Fatalf("%d policy audit entries, want 2", len(audited))
		}
		// The partial change records only what changed.
		found := false
		for _, en := range audited {
			b, _ := en["before"].(map[string]any)
			a, _ := en["after"].(map[string]any)
			if len(b) == 2 && b["requires_special_char"] == true && a["requires_special_char"] == false && b["expiry_in_days"] == 90.0 && a["expiry_in_days"] == 0.0 {
				found = en["org_id"] == org
			}
		}
		if !found {
			t.Errorf("no audit entry with the partial change's before and after: %v", audited)
		}
	})
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAPIPasswordRules: a new password is held to the strictest
// combination of the policies of every organization of the user; a refusal
// names every broken rule and who imposes it; history, 33 characters and
// Unicode (NFKC) are handled.
func TestAPIPasswordRules(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		current := "correct horse 1"
		ann := e.signUp("ann@example.com", current, "Acme")
		acme := e.firstOrg(ann)
		r := e.do(ann, "POST", "/api/v1/orgs", map[string]any{"name": "Beta"})
		e.want(r, 200, "create Beta")
		beta := r.JSON(t)["id"].(string)
		r = e.do(ann, "POST", "/api/v1/orgs", map[string]any{"name": "Gamma"})
		e.want(r, 200, "create Gamma")
		gamma := r.JSON(t)["id"].(string)

		e.want(e.setPolicy(ann, acme, map[string]any{"enabled": true, "min_length": 12}), 200, "Acme policy")
		e.want(e.setPolicy(ann, beta, map[string]any{"enabled": true, "min_length": 10, "requires_special_char": true,
			"min_character_classes": 3, "block_common": true, "history_count": 2}), 200, "Beta policy")
		// A disabled policy imposes nothing.
		e.want(e.setPolicy(ann, gamma, map[string]any{"enabled": false, "min_length": 30, "history_count": 24}), 200, "Gamma policy")

		rule := map[string]string{
			"min":     "at least 12 characters (required by Acme)",
			"max":     "at most 32 characters",
			"special": "a special character (neither a letter nor a digit) (required by Beta)",
			"classes": "at least 3 kinds of characters (lower case, upper case, digits, special characters) (required by Beta)",
			"common":  "not a common or easily guessed password, by a stricter measure: several words, or at least 10 characters without a pattern (required by Beta; it is a common password)",
			"history": "not one of your last 2 passwords (required by Beta)",
		}
		for _, c := range []struct {
			password string
			broken   []string
		}{
			{"Xq7!vbz9Kpw", []string{"min"}},
			{"Qvrm7Ktzw4Hb", []string{"special"}},
			{"qvrm!ktzw?hbx", []string{"classes"}},
			{"P030710P$E4O", []string{"common"}}, // in the list, in lower case
			{strings.Repeat("Ab1!", 8) + "x", []string{"max"}},
			{current, []string{"history"}},
			{"short", []string{"min", "special", "classes"}},
			{strings.Repeat("a", 33), []string{"max", "special", "classes"}},
		} {
			r := e.changePassword(ann, c.password, current)
			e.want(r, 400, "password "+c.password)
			var want []string
			for _, k := range c.broken {
				want = append(want, rule[k])
			}
			got := e.policyErrors(r)
			if !slices.Equal(got, want) {
				t.Errorf("%q: errors %q, want %q", c.password, got, want)
			}
			detail := e.detail(r)
			if !strings.HasPrefix(detail, "password policy not met") {
				t.Errorf("%q: detail %q", c.password, detail)
			}
			for _, w := range want {
				if !strings.Contains(detail, w) {
					t.Errorf("%q: detail %q does not name %q", c.password, detail, w)
				}
			}
			m := r.JSON(t)
			if m["min_length"] != 12.0 || m["requires_special_char"] != true || m["max_length"] != 32.0 {
				t.Errorf("%q: refusal fields %s", c.password, r.Body)
			}
		}
		if _, r := e.login("ann@example.com", current); r.Status != 200 {
			t.Fatalf("a refused change changed the password: login %d %s", r.Status, r.Body)
		}

		// History: the last 2 passwords (the current one and the one before).
		for _, next := range []string{"N3w garden kettle!", "Another pass 2!"} {
			e.want(e.changePassword(ann, next, current), 200, "change to "+next)
			current = next
		}
		r = e.changePassword(ann, "N3w garden kettle!", current)
		e.want(r, 400, "the previous password again")
		if got := e.policyErrors(r); !slices.Equal(got, []string{rule["history"]}) {
			t.Errorf("reuse: errors %q", got)
		}
		e.want(e.changePassword(ann, "correct horse 1", current), 200, "a password 3 changes back")
		current = "correct horse 1"

		// Unicode, normalised (NFKC): full-width forms log in as ASCII.
		e.want(e.changePassword(ann, "Ｍｙ-Ｆｕｌｌｗｉｄｔｈ-９", current), 200, "full-width password")
		current = "My-Fullwidth-9"
		if _, r := e.login("ann@example.com", current); r.Status != 200 {
			t.Errorf("login with the NFKC form: %d %s", r.Status, r.Body)
		}
		e.want(e.changePassword(ann, "Größe-Ärger-42€", current), 200, "password with accents and a euro sign")
		current = "Größe-Ärger-42€"

		// Acme's policy off: Beta's 10 characters are the minimum now.
		e.want(e.setPolicy(ann, acme, map[string]any{"enabled": false}), 200, "Acme policy off")
		e.want(e.changePassword(ann, "Xq7!vbz9Kp", current), 200, "10 characters under Beta")

		// The base rules for a user in no organization: 8 to 32 characters,
		// not common or easily guessed.
		bob := e.signUp("bob@example.com", "bobs garden kettle", "")
		for _, c := range []struct {
			pw     string
			status int
		}{{"1234567", 400}, {strings.Repeat("é", 33), 400}, {"password", 400}, {"vN7#qLp2", 200}} {
			e.want(e.changePassword(bob, c.pw, "bobs garden kettle"), c.status, "bob's password "+c.pw)
		}
	})
}

// TestAPIPasswordChange: without old_password a change is allowed only
// within 10 minutes of logging in; a wrong old_password is refused (and
// throttled); a change signs out the other sessions, mails a notice, and is
// audit-logged without secrets.
func TestAPIPasswordChange(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, "correct horse 1", "Acme")
		other, r := e.login(email, "correct horse 1")
		e.want(r, 200, "second session")

		// Just logged in: no old_password needed.
		e.want(e.changePassword(ann, "second password", ""), 200, "change in a privileged session")
		e.want(e.do(other, "GET", "/api/v1/self", nil), 401, "the other session after the change")
		e.want(e.do(ann, "GET", "/api/v1/self", nil), 200, "the session that changed it")
		e.waitMail(email, subjectPasswordChanged, 1)
		if _, r := e.login(email, "correct horse 1"); r.Status != 400 {
			t.Errorf("login with the old password: %d", r.Status)
		}

		// 11 minutes later the session is no longer privileged.
		other, r = e.login(email, "second password")
		e.want(r, 200, "login")
		e.st.Clock.Advance(11 * time.Minute)
		r = e.changePassword(ann, "third password", "")
		e.want(r, 403, "change without old_password after 11 minutes")
		if !strings.Contains(e.detail(r), "re-authentication is required") || r.JSON(t)["reauthentication_required"] != true {
			t.Errorf("403 detail: %s", r.Body)
		}
		r = e.changePassword(ann, "third password", "not my password")
		e.want(r, 400, "wrong old_password")
		if m := r.JSON(t); m["field"] != "old_password" || m["old_password_incorrect"] != true || e.detail(r) != "the current password is not correct" {
			t.Errorf("wrong old_password detail: %s", r.Body)
		}
		e.want(e.changePassword(ann, "third password", "second password"), 200, "change with old_password")
		e.want(e.do(other, "GET", "/api/v1/self", nil), 401, "the other session after the second change")
		e.waitMail(email, subjectPasswordChanged, 2)
		if m := e.waitMail(email, subjectPasswordChanged, 2); !strings.Contains(m.Text, e.st.URL+"/recover") || !strings.Contains(m.Text, "signed out") {
			t.Errorf("notice:\n%s", m.Text)
		}

		// A fresh login is privileged again.
		fresh, r := e.login(email, "third password")
		e.want(r, 200, "login")
		e.want(e.changePassword(fresh, "fourth password", ""), 200, "change right after a login")
		e.want(e.do(ann, "GET", "/api/v1/self", nil), 401, "the first session after the third change")

		// Wrong old passwords are throttled.
		for i := range 5 {
			r := e.changePassword(fresh, "fifth password", "wrong "+strconv.Itoa(i))
			e.want(r, 400, "wrong old_password")
		}
		r = e.changePassword(fresh, "fifth password", "fourth password")
		e.want(r, 429, "old_password after 5 wrong ones")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("429 without Retry-After: %v", r.Header)
		}
		e.st.Clock.Advance(16 * time.Minute)
		fresh, r = e.login(email, "fourth password")
		e.want(r, 200, "login")
		e.want(e.changePassword(fresh, "fifth password", "fourth password"), 200, "after the lock")

		// old_password without password; names and a password together.
		e.want(e.do(fresh, "PUT", "/api/v1/self", map[string]any{"old_password": "fifth password"}), 400, "old_password alone")
		r = e.do(fresh, "PUT", "/api/v1/self", map[string]any{"first_name": "Ann", "password": "sixth password"})
		e.want(r, 200, "name and password")
		if r.JSON(t)["first_name"] != "Ann" {
			t.Errorf("name not changed: %s", r.Body)
		}
		r = e.do(fresh, "PUT", "/api/v1/self", map[string]any{"phone": "12", "password": "seventh password"})
		e.want(r, 400, "bad phone with a password")
		if _, r := e.login(email, "sixth password"); r.Status != 200 {
			t.Errorf("a refused update changed the password: %d", r.Status)
		}

		// Audit: one entry per change, without any secret.
		n := 0
		for _, en := range e.auditEntries(fresh) {
			if en["message"] == "Changed password" {
				n++
			}
		}
		if n != 5 {
			t.Errorf("%d password change audit entries, want 5", n)
		}
		logs := e.do(fresh, "GET", "/api/v1/self/logs?duration=1w", nil).Body
		for _, secret := range []string{"$argon2", "password\":", "second password", "third password", "fourth password", "sixth password"} {
			if bytes.Contains(logs, []byte(secret)) {
				t.Errorf("audit log contains %q", secret)
			}
		}
	})
}

// TestAPIPasswordExpiry: once the password is older than expiry_in_days,
// the user can log in but do nothing but read /self, change the password
// and log out.
func TestAPIPasswordExpiry(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, pw = "ann@example.com", "correct horse 1"
		ann := e.signUp(email, pw, "Acme")
		org := e.firstOrg(ann)
		r := e.do(ann, "POST", "/api/v1/orgs", map[string]any{"name": "Beta"})
		e.want(r, 200, "create Beta")
		beta := r.JSON(t)["id"].(string)
		e.want(e.setPolicy(ann, org, map[string]any{"enabled": true, "expiry_in_days": 30}), 200, "Acme expiry")
		e.want(e.setPolicy(ann, beta, map[string]any{"enabled": true, "expiry_in_days": 45}), 200, "Beta expiry")

		// Not expired one second before 30 days (the shortest expiry).
		e.st.Clock.Advance(30*24*time.Hour - time.Second)
		c, r := e.login(email, pw)
		e.want(r, 200, "login before expiry")
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 200, "org before expiry")

		e.st.Clock.Advance(time.Second)
		for _, rq := range []struct{ method, path string }{
			{"GET", "/api/v1/orgs/" + org},
			{"GET", "/api/v1/orgs/" + org + "/setting"},
			{"GET", "/api/v1/orgs/" + org + "/sites"},
			{"POST", "/api/v1/orgs"},
			{"GET", "/api/v1/self/logs"},
		} {
			var body any
			if rq.method == "POST" {
				body = map[string]any{"name": "x"}
			}
			r := e.do(c, rq.method, rq.path, body)
			e.want(r, 403, "expired: "+rq.method+" "+rq.path)
			if r.JSON(t)["password_expired"] != true || !strings.Contains(e.detail(r), "expired") {
				t.Errorf("%s %s: %s", rq.method, rq.path, r.Body)
			}
		}
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "GET self with an expired password")
		r = e.do(c, "PUT", "/api/v1/self", map[string]any{"first_name": "Eve"})
		e.want(r, 403, "PUT names with an expired password")
		if r.JSON(t)["password_expired"] != true {
			t.Errorf("PUT names: %s", r.Body)
		}
		// A new login does not help.
		c2, r := e.login(email, pw)
		e.want(r, 200, "login with an expired password")
		e.want(e.do(c2, "GET", "/api/v1/orgs/"+org, nil), 403, "org after a new login")
		e.want(e.do(c2, "POST", "/api/v1/logout", nil), 200, "logout with an expired password")

		// Changing it opens everything again.
		r = e.changePassword(c, "a new password 2", pw)
		e.want(r, 200, "change the expired password")
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 200, "org after the change")
		if e.self(c)["first_name"] != "Test" {
			t.Error("the refused PUT changed the name")
		}
	})
}

// TestAPIRecover: POST /api/v1/recover answers the same for every address;
// the mailed link works once, for one hour; without a password it opens a
// session that can only set the password; setting it clears a required
// reset, signs out every other session and mails a notice.
func TestAPIRecover(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, "correct horse 1", "Acme")
		org := e.firstOrg(ann)
		e.want(e.setPolicy(ann, org, map[string]any{"enabled": true, "min_length": 12, "requires_special_char": true}), 200, "policy")
		anon := e.st.Client()

		// No enumeration: the same answer for an account, another case of
		// it, an unknown address; mail only to the account.
		first := e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email})
		e.want(first, 200, "recover")
		// Mail goes out several at a time, so two mails to one address
		// may arrive in either order: wait for the first before asking
		// for the one that replaces it.
		replaced := e.recoverToken(email, 1)
		for _, addr := range []string{"nobody@example.com", "ANN@Example.com"} {
			r := e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": addr})
			if r.Status != first.Status || !bytes.Equal(r.Body, first.Body) {
				t.Errorf("recover %s: %d %s, want %d %s", addr, r.Status, r.Body, first.Status, first.Body)
			}
		}
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "not an address"}), 400, "recover a bad address")
		token := e.recoverToken(email, 2)
		if n := len(e.mailsTo("nobody@example.com")); n != 0 {
			t.Errorf("%d mails to an unknown address", n)
		}
		e.want(e.do(anon, "POST", "/api/v1/recover/verify/"+replaced, nil), 404, "a replaced link")

		// The link opens a password-only session.
		rc := e.st.Client()
		r := e.do(rc, "POST", "/api/v1/recover/verify/"+token, nil)
		e.want(r, 200, "verify")
		if r.JSON(t)["password_only"] != true || e.cookie(rc, "sessionid") == "" {
			t.Fatalf("verify answer: %s", r.Body)
		}
		e.want(e.do(anon, "POST", "/api/v1/recover/verify/"+token, nil), 400, "the link a second time")
		for _, rq := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/orgs/" + org, nil},
			{"GET", "/api/v1/self/logs", nil},
			{"POST", "/api/v1/orgs", map[string]any{"name": "Evil"}},
			{"PUT", "/api/v1/self", map[string]any{"first_name": "Eve"}},
			{"PUT", "/api/v1/self", map[string]any{"first_name": "Eve", "password": "Good password 1!"}},
		} {
			r := e.do(rc, rq.method, rq.path, rq.body)
			e.want(r, 403, "password-only session: "+rq.method+" "+rq.path)
			if r.JSON(t)["password_only"] != true {
				t.Errorf("%s %s: %s", rq.method, rq.path, r.Body)
			}
		}
		e.want(e.do(rc, "GET", "/api/v1/self", nil), 200, "GET self in a password-only session")
		r = e.changePassword(rc, "weak", "")
		e.want(r, 400, "a weak password")
		if got := e.policyErrors(r); len(got) != 2 || !strings.Contains(got[0], "Acme") {
			t.Errorf("weak password errors: %q", got)
		}
		e.want(e.changePassword(rc, "Good password 1!", ""), 200, "set the password")
		e.want(e.do(rc, "GET", "/api/v1/orgs/"+org, nil), 200, "the session is a full one now")
		e.want(e.do(ann, "GET", "/api/v1/self", nil), 401, "the session from before the recovery")
		e.waitMail(email, subjectPasswordChanged, 1)
		if _, r := e.login(email, "correct horse 1"); r.Status != 400 {
			t.Errorf("login with the forgotten password: %d", r.Status)
		}
		if _, r := e.login(email, "Good password 1!"); r.Status != 200 {
			t.Errorf("login with the new password: %d %s", r.Status, r.Body)
		}

		// Expiry: valid for one hour less a second, not at one hour.
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		token = e.recoverToken(email, 3)
		e.st.Clock.Advance(time.Hour)
		r = e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "Other password 2!"})
		e.want(r, 400, "a link after one hour")
		if !strings.Contains(e.detail(r), "expired") {
			t.Errorf("expired link: %s", r.Body)
		}
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		token = e.recoverToken(email, 4)
		e.st.Clock.Advance(time.Hour - time.Second)

		// One call with the password (our addition): a weak one leaves the
		// link usable; a good one sets it and signs in fully.
		r = e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "short"})
		e.want(r, 400, "verify with a weak password")
		if len(e.policyErrors(r)) != 2 {
			t.Errorf("weak password at verify: %s", r.Body)
		}
		one := e.st.Client()
		r = e.do(one, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "Other password 2!"})
		e.want(r, 200, "verify with a password")
		if r.JSON(t)["password_only"] != false {
			t.Errorf("verify with a password: %s", r.Body)
		}
		e.want(e.do(one, "GET", "/api/v1/orgs/"+org, nil), 200, "full session after verify with a password")
		e.waitMail(email, subjectPasswordChanged, 2)

		// A password-only session lives 15 minutes.
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		token = e.recoverToken(email, 5)
		short := e.st.Client()
		e.want(e.do(short, "POST", "/api/v1/recover/verify/"+token, nil), 200, "verify")
		e.st.Clock.Advance(16 * time.Minute)
		e.want(e.do(short, "GET", "/api/v1/self", nil), 401, "password-only session after 16 minutes")

		for _, tok := range []string{"unknown", strings.Repeat("A", 43), strings.Repeat("x", 300)} {
			e.want(e.do(anon, "POST", "/api/v1/recover/verify/"+tok, nil), 404, "unknown token")
		}
		e.want(e.raw(anon, "POST", "/api/v1/recover/verify/"+strings.Repeat("B", 43), "[1]", nil), 400, "a body that is not an object")
	})
}

// TestAPIRecoverResetRequired: an account whose reset is required (after
// "this wasn't me") cannot log in until recovery sets a new password.
func TestAPIRecoverResetRequired(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		e.signUp(email, "correct horse 1", "")
		ctx := context.Background()
		err := e.st.DB.Write(ctx, func(tx *store.Tx) error {
			u, err := tx.GetUserByEmail(ctx, email)
			if err != nil {
				return err
			}
			u.PasswordResetRequired = true
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
			_, err = tx.DeleteUserSessions(ctx, u.ID, "")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, r := e.login(email, "correct horse 1")
		e.want(r, 403, "login with a reset required")
		if r.JSON(t)["password_reset_required"] != true {
			t.Errorf("login: %s", r.Body)
		}
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		c := e.st.Client()
		e.want(e.do(c, "POST", "/api/v1/recover/verify/"+e.recoverToken(email, 1), map[string]any{"password": "a brand new one"}), 200, "recover")
		e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "signed in after the recovery")
		if _, r := e.login(email, "a brand new one"); r.Status != 200 {
			t.Errorf("login after recovery: %d %s", r.Status, r.Body)
		}
	})
}

// TestAPIRecoverLimits: mail to one address is capped at 5 an hour (the
// answer stays the same); one client address may ask 20 times an hour.
func TestAPIRecoverLimits(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		e.signUp(email, "correct horse 1", "")
		anon := e.st.Client()
		var first testenv.Response
		for i := range 8 {
			r := e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email})
			if i == 0 {
				first = r
			}
			if r.Status != 200 || !bytes.Equal(r.Body, first.Body) {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		e.recoverToken(email, 5)
		// A mail sent afterwards has arrived: the 6th to 8th were not sent.
		e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "ANN+x@example.com"})
		e.signUp("marker@example.com", "marked kettle lamp", "")
		if n := e.countMails(email, subjectRecover); n != 5 {
			t.Errorf("%d recovery mails, want 5", n)
		}
		for i := 10; i < 21; i++ { // 20 requests from this address so far
			e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "x" + strconv.Itoa(i) + "@example.com"}), 200, "request "+strconv.Itoa(i))
		}
		r := e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "late@example.com"})
		e.want(r, 429, "the 21st request of an hour")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		e.st.Clock.Advance(time.Hour + time.Second)
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "an hour later")
		e.recoverToken(email, 6)
	})
}
