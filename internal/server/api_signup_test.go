package server_test

import (
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPISignupCannotBeHijacked: a stranger signs up first with the
// victim's address and a password of their own; the victim then signs up
// and follows their own link. The account has the victim's password, the
// stranger's link no longer works, and the stranger's password opens nothing.
func TestAPISignupCannotBeHijacked(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const victim = "victim@example.com"
		e.want(e.register(e.st.Client(), victim, "stranger-pass", nil), 200, "stranger's sign-up")
		strangerToken := e.verifyToken(victim, 1)
		e.st.Clock.Advance(time.Minute)
		e.want(e.register(e.st.Client(), victim, "quiet kettle lamp 7", nil), 200, "victim's sign-up")
		victimToken := e.verifyToken(victim, 2)

		// The newest sign-up is pending: its password is told it is not verified yet.
		_, r := e.login(victim, "quiet kettle lamp 7")
		e.want(r, 403, "login before verification")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+victimToken, nil), 200, "victim follows their link")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+strangerToken, nil), 400, "stranger's link after the victim verified")

		_, r = e.login(victim, "stranger-pass")
		e.want(r, 400, "login with the stranger's password")
		_, r = e.login(victim, "quiet kettle lamp 7")
		e.want(r, 200, "login with the victim's password")
	})
}

// TestAPIExpiredSignupCanBeRenewed: after the link expired, login still says
// the address is unverified, and resend mails a link that works.
func TestAPIExpiredSignupCanBeRenewed(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "late@example.com"
		e.want(e.register(e.st.Client(), email, "tardy signup kettle", nil), 200, "sign-up")
		old := e.verifyToken(email, 1)
		e.st.Clock.Advance(25 * time.Hour)
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+old, nil), 400, "expired link")
		_, r := e.login(email, "tardy signup kettle")
		e.want(r, 403, "login with an expired sign-up")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/resend", map[string]any{"email": email}), 200, "resend")
		fresh := e.verifyToken(email, 2)
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+fresh, nil), 200, "renewed link")
		_, r = e.login(email, "tardy signup kettle")
		e.want(r, 200, "login after verification")
	})
}

// TestAPISignupMailIsCapped: sign-ups to one address send at most 5 mails an
// hour, with the same answer every time.
func TestAPISignupMailIsCapped(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "flooded@example.com"
		var first []byte
		for i := 0; i < 8; i++ {
			r := e.register(e.st.Client(), email, "flood-password", nil)
			e.want(r, 200, "sign-up")
			if first == nil {
				first = r.Body
			} else if string(r.Body) != string(first) {
				t.Errorf("answer %d differs: %s vs %s", i, r.Body, first)
			}
		}
		e.waitMail(email, subjectVerify, 5)
		// Let the worker deliver anything else that was queued.
		e.st.Worker.RunOnce(t.Context())
		if n := len(e.mailsTo(email)); n != 5 {
			t.Errorf("%d mails sent, want 5", n)
		}
		e.st.Clock.Advance(61 * time.Minute)
		e.want(e.register(e.st.Client(), email, "flood-password", nil), 200, "sign-up an hour later")
		e.waitMail(email, subjectVerify, 6)
	})
}
