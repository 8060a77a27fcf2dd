package server_test

import (
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPITwoFactorPendingSessionIsShortLived: a session that owes its
// second factor dies 10 minutes after the password, however it is used;
// once the code is given it gets the full sliding life.
func TestAPITwoFactorPendingSessionIsShortLived(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "short@example.com"
		owner := e.signUp(email, twoFactorTestPassword, "")
		secret, _ := e.activate(owner)

		// Used every few minutes, the pending session still ends at 10 minutes.
		c := e.pendingLogin(email)
		for i := 0; i < 3; i++ {
			e.st.Clock.Advance(3 * time.Minute)
			e.want(e.do(c, "GET", "/api/v1/self", nil), 200, "self while pending")
		}
		e.st.Clock.Advance(2 * time.Minute) // 11 minutes after the password
		e.want(e.passCode(c, e.code(secret, 0)), 401, "code after the pending session expired")

		// Given in time, the code turns it into a full session: 11 idle
		// minutes later it still works.
		e.alignClock(0)
		c = e.pendingLogin(email)
		e.st.Clock.Advance(9 * time.Minute)
		e.want(e.passCode(c, e.code(secret, 0)), 200, "code within 10 minutes")
		e.st.Clock.Advance(11 * time.Minute)
		r := e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 200, "self 11 minutes after passing")
		if m := r.JSON(t); m["two_factor_passed"] != true || m["two_factor_required"] != false {
			t.Errorf("self after passing: %s", r.Body)
		}
	})
}
