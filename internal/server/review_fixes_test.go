package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestTwoFactorEnrolNeedsReauthentication: setting up two-factor
// authentication (starting and verifying) needs a session logged in within
// the last 10 minutes or the current password, and is refused to API
// tokens; otherwise whoever held a session or a token could turn it on with
// their own secret and lock the owner out.
func TestTwoFactorEnrolNeedsReauthentication(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, "")
		_, key := e.tokenCreate(ann, "script")

		r := e.tok(key, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true})
		e.want(r, 403, "enable with an API token")
		if r.JSON(t)["session_required"] != true {
			t.Errorf("enable with a token: %s", r.Body)
		}

		e.st.Clock.Advance(11 * time.Minute)
		r = e.do(ann, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true})
		e.want(r, 403, "enable 11 minutes after login without the password")
		if m := r.JSON(t); m["reauthentication_required"] != true || m["field"] != "current_password" {
			t.Errorf("enable without the password: %s", r.Body)
		}
		r = e.do(ann, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true, "current_password": "not it"})
		e.want(r, 400, "enable with a wrong password")
		if m := r.JSON(t); m["current_password_incorrect"] != true || m["field"] != "current_password" || strings.Contains(e.detail(r), "current_password") {
			t.Errorf("enable with a wrong password: %s", r.Body)
		}
		e.want(e.do(ann, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true, "current_password": twoFactorTestPassword}), 200, "enable with the password")

		e.want(e.tok(key, "GET", "/api/v1/self/two_factor/token", nil), 403, "secret with an API token")
		r = e.do(ann, "GET", "/api/v1/self/two_factor/token", nil)
		e.want(r, 200, "secret")
		secret := r.JSON(t)["two_factor_secret"].(string)

		e.want(e.tok(key, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0)}), 403, "verify with an API token")
		r = e.do(ann, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0)})
		e.want(r, 403, "verify 11 minutes after login without the password")
		if r.JSON(t)["reauthentication_required"] != true {
			t.Errorf("verify without the password: %s", r.Body)
		}
		if s := e.self(ann); s["two_factor_verified"] != false {
			t.Errorf("verified after refusals: %v", s)
		}
		r = e.do(ann, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0), "current_password": twoFactorTestPassword})
		e.want(r, 200, "verify with the password")
		if codes, _ := r.JSON(t)["recovery_codes"].([]any); len(codes) != 10 {
			t.Errorf("verify: %s", r.Body)
		}

		// Right after a login, no password is needed (the GUI flow).
		bob := e.signUp("bob@example.com", twoFactorTestPassword, "")
		e.activate(bob)
	})
}

// TestTwoFactorEnrolGUI: right after login, tick → Save → Verify works
// without the password; in an older session the Authentication section and
// the verification page ask for it, and the messages name no API field.
func TestTwoFactorEnrolGUI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", twoFactorTestPassword, "")
		if page := pageText(t, e.st, ann, "/account"); strings.Contains(page, `id="tf_enable_password"`) {
			t.Error("a fresh session is asked for its password to turn on two-factor authentication")
		}
		r := postForm(t, e.st, ann, "/account/authentication", url.Values{"enable_two_factor": {"1"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("save right after login: %d %s", r.Status, firstLine(string(r.Body), "error"))
		}
		page := pageText(t, e.st, ann, "/account/two_factor")
		if strings.Contains(page, `name="current_password"`) {
			t.Error("the verification page of a fresh session asks for the password")
		}
		secret := e.do(ann, "GET", "/api/v1/self/two_factor/token", nil).JSON(t)["two_factor_secret"].(string)
		r = postForm(t, e.st, ann, "/account/two_factor", url.Values{"two_factor": {e.code(secret, 0)}})
		if r.Status != 200 || !strings.Contains(string(r.Body), "Two-factor authentication is verified and turned on.") {
			t.Fatalf("verify right after login: %d", r.Status)
		}

		// An older session: the password is asked for.
		bob := e.signUp("bob@example.com", twoFactorTestPassword, "")
		e.st.Clock.Advance(11 * time.Minute)
		if page := pageText(t, e.st, bob, "/account"); !strings.Contains(page, `id="tf_enable_password"`) {
			t.Error("an older session is not asked for its password to turn on two-factor authentication")
		}
		r = postForm(t, e.st, bob, "/account/authentication", url.Values{"enable_two_factor": {"1"}, "current_password": {"wrong one"}})
		if body := string(r.Body); r.Status != 400 || !strings.Contains(body, "The current password is not correct.") || strings.Contains(body, "_password is") {
			t.Errorf("save with a wrong password: %d %q", r.Status, firstLine(body, "password"))
		}
		r = postForm(t, e.st, bob, "/account/authentication", url.Values{"enable_two_factor": {"1"}, "current_password": {twoFactorTestPassword}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("save with the password: %d", r.Status)
		}
		if page := pageText(t, e.st, bob, "/account/two_factor"); !strings.Contains(page, `name="current_password"`) {
			t.Error("the verification page of an older session does not ask for the password")
		}
		secret = e.do(bob, "GET", "/api/v1/self/two_factor/token", nil).JSON(t)["two_factor_secret"].(string)
		r = postForm(t, e.st, bob, "/account/two_factor", url.Values{"two_factor": {"12345"}, "current_password": {twoFactorTestPassword}})
		if body := string(r.Body); r.Status != 400 || !strings.Contains(body, "The code must be the 6-digit code from your authenticator app.") {
			t.Errorf("verify with a bad code: %d %q", r.Status, firstLine(body, "code"))
		}
		r = postForm(t, e.st, bob, "/account/two_factor", url.Values{"two_factor": {e.code(secret, 0)}, "current_password": {twoFactorTestPassword}})
		if r.Status != 200 || !strings.Contains(string(r.Body), "Two-factor authentication is verified and turned on.") {
			t.Fatalf("verify with the password: %d", r.Status)
		}
	})
}

// TestEmailRevertRemovesTwoFactor: "this wasn't me" removes two-factor
// authentication that whoever changed the address turned on, so that the
// owner can recover the account with the mailbox.
func TestEmailRevertRemovesTwoFactor(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const owner, thief = "ann@example.com", "mallory@example.net"
		e.signUp(owner, twoFactorTestPassword, "")
		stolen, r := e.login(owner, twoFactorTestPassword)
		e.want(r, 200, "the thief's login")
		secret, _ := e.activate(stolen)
		e.st.Clock.Advance(30 * time.Second) // the next code
		e.want(e.do(stolen, "POST", "/api/v1/self/update", map[string]any{"email": thief, "password": twoFactorTestPassword,
			"two_factor": e.code(secret, 0)}), 200, "the thief's change request")
		e.want(e.confirmChange(stolen, e.changeToken(thief, 1)), 200, "change to the thief's address")

		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+e.revertToken(owner, 1), nil), 200, "revert")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": owner}), 200, "recover")
		nc := e.st.Client()
		r = e.do(nc, "POST", "/api/v1/recover/verify/"+e.recoverToken(owner, 1), map[string]any{"password": "the owner's new password"})
		e.want(r, 200, "recovery without the thief's code")
		if s := e.self(nc); s["enable_two_factor"] != false {
			t.Errorf("self after recovery: %v", s)
		}
	})
}

// TestRecoveryDeletesAPITokens: a password recovery deletes the user's API
// tokens (whoever knew the old password may have made them); a change by
// the logged-in owner keeps them.
func TestRecoveryDeletesAPITokens(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, "")
		_, key := e.tokenCreate(ann, "script")
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "token")
		e.want(e.changePassword(ann, "a second password", twoFactorTestPassword), 200, "change by the owner")
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "token after a change by the owner")

		// Recovery with the password in the same call.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		nc := e.st.Client()
		r := e.do(nc, "POST", "/api/v1/recover/verify/"+e.recoverToken(email, 1), map[string]any{"password": "a third password"})
		e.want(r, 200, "recovery")
		if !strings.Contains(e.detail(r), "API tokens are deleted") {
			t.Errorf("recovery answer: %s", r.Body)
		}
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 401, "token after recovery")
		// The notice says so; the one after the owner's own change did not.
		if m := e.waitMail(email, subjectPasswordChanged, 2); !strings.Contains(m.Text, "1 API token(s) were deleted") {
			t.Errorf("notice after recovery does not mention the deleted token:\n%s", m.Text)
		}
		if m := e.waitMail(email, subjectPasswordChanged, 1); strings.Contains(m.Text, "API token") {
			t.Errorf("notice after the owner's change mentions tokens:\n%s", m.Text)
		}

		// Recovery through a password-only session.
		_, key = e.tokenCreate(nc, "script 2")
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "new token")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover again")
		pc := e.st.Client()
		e.want(e.do(pc, "POST", "/api/v1/recover/verify/"+e.recoverToken(email, 2), nil), 200, "password-only session")
		e.want(e.do(pc, "PUT", "/api/v1/self", map[string]any{"password": "a fourth password"}), 200, "new password")
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 401, "token after the second recovery")
	})
}

// TestSessionCookieLife: the session cookies last as long as the longest
// session (14 days); the server decides when a session ends. A login that
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

// TestAPITokenTwoFactorEnrolDue: an organization's mandatory two-factor
// authentication applies to API tokens too once the grace period is over.
func TestAPITokenTwoFactorEnrolDue(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		boss := e.signUp("boss@example.com", twoFactorTestPassword, twoFactorTestOrg)
		org := e.firstOrg(boss)
		bob := e.signUp("bob@example.com", twoFactorTestPassword, "")
		addMember(t, e.st, "bob@example.com", org, e.st.Clock.Now())
		_, key := e.tokenCreate(bob, "script")
		e.want(e.setPolicy(boss, org, map[string]any{"enabled": true, "requires_two_factor_auth": true, "two_factor_grace_days": 1}), 200, "require 2FA")
		e.want(e.tok(key, "GET", "/api/v1/orgs/"+org, nil), 200, "token in the grace period")

		e.st.Clock.Advance(24*time.Hour + time.Second)
		r := e.tok(key, "GET", "/api/v1/orgs/"+org, nil)
		e.want(r, 403, "token after the grace period")
		if r.JSON(t)["two_factor_enrolment_required"] != true {
			t.Errorf("token after the grace period: %s", r.Body)
		}
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "token reads /self after the grace period")
	})
}
