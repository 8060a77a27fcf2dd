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
