package server_test

import (
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

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
