package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"portal/internal/app"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Account takeover through the e-mail address: whoever controls the address
// can reset the password, so changing it needs a session (never an API
// token) and the current password, with a current code when two-factor
// authentication is on; undoing a change from the old mailbox removes only
// the second factors the intruder set up.

// TestTakeoverWithAPIToken replays the attack: with only an API token,
// change the address to one's own, confirm it, and reset the password
// through it. Every step that changes a way in is refused.
func TestTakeoverWithAPIToken(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const owner, thief = "ann@example.com", "mallory@example.net"
		ann := e.signUp(owner, emailPassword, "")
		_, key := e.tokenCreate(ann, "ci script")
		id := e.userID(owner)

		r := e.tok(key, "POST", "/api/v1/self/update", map[string]any{"email": thief})
		e.want(r, 403, "email change with an API token")
		if r.JSON(t)["session_required"] != true || !strings.Contains(e.detail(r), "an API token cannot change the email address") {
			t.Errorf("email change with a token: %s", r.Body)
		}
		// Even with the password, a token is refused.
		e.want(e.tok(key, "POST", "/api/v1/self/update", map[string]any{"email": thief, "password": emailPassword}), 403, "email change with a token and the password")
		if _, err := e.st.DB.PendingEmailToken(context.Background(), id, "email_change", e.st.Clock.Now()); err == nil {
			t.Fatal("a token's refused request left a pending change")
		}

		// A change the owner started cannot be confirmed or re-sent with the token.
		e.requestChange(ann, "ann.new@example.org")
		token := e.changeToken("ann.new@example.org", 1)
		e.want(e.tok(key, "GET", "/api/v1/self/update/verify/"+token, nil), 403, "confirm with a token")
		e.want(e.tok(key, "POST", "/api/v1/self/update/resend", nil), 403, "resend with a token")
		if got := e.userEmail(id); got != owner {
			t.Fatalf("address after the token's attempts: %q", got)
		}
		// Nor can the password be changed with it, old password or not.
		e.want(e.tok(key, "PUT", "/api/v1/self", map[string]any{"password": "mallory's own pass 9", "old_password": emailPassword}), 403, "password change with a token")
		_, r = e.login(owner, emailPassword)
		e.want(r, 200, "the owner's password still works")
		// The owner's own session confirms.
		e.want(e.confirmChange(ann, token), 200, "the owner confirms")
	})
}

// TestSessionOnlyOperations tries every operation that app lists as never
// allowed to an API token (app.SessionOnlyOperations) with a token: each
// answers 403 "session_required" and changes nothing. An operation added
// to the list without a request here fails the test.
func TestSessionOnlyOperations(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, "")
		_, key := e.tokenCreate(ann, "script")
		// Bob has two-factor authentication on: turning it off and new
		// recovery codes are tried on his account.
		const bobEmail = "bob@example.com"
		bob := e.signUp(bobEmail, twoFactorTestPassword, "")
		secret, _ := e.activate(bob)
		_, bobKey := e.tokenCreate(bob, "script")
		e.st.Clock.Advance(30 * time.Second)

		type call struct {
			key, method, path string
			body              map[string]any
		}
		calls := map[app.SessionOnly][]call{
			app.OpCreateAPIToken: {{key, "POST", "/api/v1/self/apitokens", map[string]any{"name": "minted"}}},
			app.OpChangeEmail: {
				{key, "POST", "/api/v1/self/update", map[string]any{"email": "x@example.net", "password": twoFactorTestPassword}},
				{key, "POST", "/api/v1/self/update/resend", nil},
				{key, "GET", "/api/v1/self/update/verify/" + strings.Repeat("a", 43), nil},
			},
			app.OpChangePassword: {{key, "PUT", "/api/v1/self", map[string]any{"password": "a brand new passphrase", "old_password": twoFactorTestPassword}}},
			app.OpChangeTwoFactor: {
				{key, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true, "current_password": twoFactorTestPassword}},
				{bobKey, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": false, "current_password": twoFactorTestPassword, "two_factor": e.code(secret, 0)}},
			},
			app.OpRecoveryCodes: {{bobKey, "POST", "/api/v1/self/two_factor/recovery_codes", map[string]any{"password": twoFactorTestPassword}}},
			app.OpDeleteAccount: {{key, "DELETE", "/api/v1/self", map[string]any{"password": twoFactorTestPassword}}},
		}
		for _, op := range app.SessionOnlyOperations {
			cs := calls[op]
			if len(cs) == 0 {
				t.Errorf("no request tries %q with an API token: add one", op)
			}
			for _, c := range cs {
				var body any
				if c.body != nil {
					body = c.body
				}
				r := e.tok(c.key, c.method, c.path, body)
				if r.Status != 403 || r.JSON(t)["session_required"] != true || !strings.Contains(e.detail(r), "an API token cannot "+string(op)) {
					t.Errorf("%s %s with a token: %d %s, want 403 session_required naming %q", c.method, c.path, r.Status, r.Body, op)
				}
			}
		}
		// Nothing changed.
		if n := len(e.list(e.do(ann, "GET", "/api/v1/self/apitokens", nil))); n != 1 {
			t.Errorf("ann has %d tokens, want 1", n)
		}
		if s := e.self(ann); s["enable_two_factor"] != false {
			t.Errorf("ann's two-factor state changed: %v", s["enable_two_factor"])
		}
		if s := e.self(bob); s["two_factor_verified"] != true {
			t.Errorf("bob's two-factor authentication changed: %v", s["two_factor_verified"])
		}
		_, r := e.login(email, twoFactorTestPassword)
		e.want(r, 200, "ann's password unchanged")
		// Bob's code was not used up by the refused request: it still works.
		e.want(e.do(bob, "POST", "/api/v1/self/two_factor/recovery_codes", map[string]any{"password": twoFactorTestPassword}), 200, "bob's own session")
	})
}

// TestEmailChangeNeedsReauthentication: a stolen session alone cannot
// change the address: the current password is required, and a current
// code (used once) when two-factor authentication is on.
func TestEmailChangeNeedsReauthentication(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const owner = "ann@example.com"
		ann := e.signUp(owner, twoFactorTestPassword, "")
		id := e.userID(owner)
		pending := func() bool {
			_, err := e.st.DB.PendingEmailToken(ctx, id, "email_change", e.st.Clock.Now())
			return err == nil
		}

		// A session a second old is not enough.
		r := e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "mallory@example.net"})
		e.want(r, 403, "change without the password")
		if m := r.JSON(t); m["reauthentication_required"] != true || m["field"] != "password" || m["two_factor_required"] != false ||
			!strings.Contains(e.detail(r), "to change your email address, give your current password") {
			t.Errorf("change without the password: %s", r.Body)
		}
		r = e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "mallory@example.net", "password": "not the password"})
		e.want(r, 400, "change with a wrong password")
		if m := r.JSON(t); m["password_incorrect"] != true || m["field"] != "password" {
			t.Errorf("change with a wrong password: %s", r.Body)
		}
		if pending() {
			t.Fatal("a refused request left a pending change")
		}
		e.want(e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.org", "password": twoFactorTestPassword}), 200, "change with the password")
		e.want(e.do(ann, "DELETE", "/api/v1/self/update", nil), 200, "cancel")

		// With two-factor authentication on, a code too.
		secret, recovery := e.activate(ann)
		e.st.Clock.Advance(30 * time.Second)
		r = e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.org", "password": twoFactorTestPassword})
		e.want(r, 403, "change without the code")
		if m := r.JSON(t); m["reauthentication_required"] != true || m["two_factor_required"] != true || m["field"] != "two_factor" ||
			!strings.Contains(e.detail(r), "and a code from your authenticator app") {
			t.Errorf("change without the code: %s", r.Body)
		}
		// A code of five minutes from now is not a current one.
		r = e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.org", "password": twoFactorTestPassword, "two_factor": e.code(secret, 10)})
		e.want(r, 400, "change with a wrong code")
		if r.JSON(t)["two_factor_incorrect"] != true {
			t.Errorf("change with a wrong code: %s", r.Body)
		}
		if pending() {
			t.Fatal("a wrong code left a pending change")
		}
		code := e.code(secret, 0)
		e.want(e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.org", "password": twoFactorTestPassword, "two_factor": code}), 200, "change with the code")
		// The code is used: it cannot be replayed for another change.
		r = e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.other@example.org", "password": twoFactorTestPassword, "two_factor": code})
		e.want(r, 400, "replayed code")
		if !strings.Contains(e.detail(r), "already used") {
			t.Errorf("replayed code: %s", r.Body)
		}
		// A recovery code does too, once.
		e.want(e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.other@example.org", "password": twoFactorTestPassword, "two_factor": recovery[0]}), 200, "change with a recovery code")
		if p := e.do(ann, "GET", "/api/v1/self/update", nil).JSON(t); p["email"] != "ann.other@example.org" {
			t.Errorf("pending after the recovery code: %v", p)
		}
	})
}

// TestEmailConfirmLinkCrossSite: Mist's GET that confirms a change gets the
// cross-origin checks of unsafe requests: a browser sending it from another
// site is refused and nothing changes; a client without those headers
// (Mist's SDK) confirms.
func TestEmailConfirmLinkCrossSite(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const owner, next = "ann@example.com", "ann.new@example.org"
		ann := e.signUp(owner, emailPassword, "")
		id := e.userID(owner)
		e.requestChange(ann, next)
		path := "/api/v1/self/update/verify/" + e.changeToken(next, 1)
		for _, hdr := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site"},
			{"Origin": "https://evil.example.net"},
		} {
			r := e.raw(ann, "GET", path, "", hdr)
			if r.Status != 403 || !strings.Contains(e.detail(r), "cross-origin request refused") {
				t.Errorf("GET with %v: %d %s, want 403", hdr, r.Status, r.Body)
			}
			if got := e.userEmail(id); got != owner {
				t.Fatalf("a cross-site GET changed the address to %q", got)
			}
		}
		// From the same origin, or without the headers: confirmed.
		r := e.raw(ann, "GET", path, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
		e.want(r, 200, "same-origin GET")
		if got := e.userEmail(id); got != next {
			t.Errorf("address after the same-origin GET = %q", got)
		}
	})
}

// TestEmailRevertKeepsOwnersSecondFactor is takeover 2: whoever holds the
// old mailbox cannot use "this wasn't me" to strip a second factor the
// owner had, then recover the account with the mailbox alone. Both orders:
// a factor set up before the intruder's change stays (recovery asks for
// its code); one set up by the intruder after signing in goes.
func TestEmailRevertKeepsOwnersSecondFactor(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)

		// The owner's factor, set up days before the change.
		const owner = "ann@example.com"
		ann := e.signUp(owner, twoFactorTestPassword, "")
		secret, _ := e.activate(ann)
		e.st.Clock.Advance(3 * 24 * time.Hour)
		// The change is made in a fresh session (say by someone who had the
		// password and the code), then undone from the old mailbox.
		moved := e.pendingLogin(owner)
		e.want(e.passCode(moved, e.code(secret, 0)), 200, "second factor")
		e.st.Clock.Advance(30 * time.Second)
		e.want(e.do(moved, "POST", "/api/v1/self/update", map[string]any{"email": "ann.moved@example.net", "password": twoFactorTestPassword,
			"two_factor": e.code(secret, 0)}), 200, "change request")
		e.want(e.confirmChange(moved, e.changeToken("ann.moved@example.net", 1)), 200, "confirm")
		r := e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+e.revertToken(owner, 1), nil)
		e.want(r, 200, "revert")
		// The mailbox alone does not open the account: recovery asks for the owner's code.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": owner}), 200, "recover")
		link := e.recoverToken(owner, 1)
		r = e.do(e.st.Client(), "POST", "/api/v1/recover/verify/"+link, map[string]any{"password": "the owner's new passphrase"})
		e.want(r, 400, "recovery without the code")
		if r.JSON(t)["two_factor_required"] != true {
			t.Errorf("recovery without the code: %s", r.Body)
		}
		e.st.Clock.Advance(30 * time.Second)
		nc := e.st.Client()
		r = e.do(nc, "POST", "/api/v1/recover/verify/"+link, map[string]any{"password": "the owner's new passphrase", "two_factor": e.code(secret, 0)})
		e.want(r, 200, "recovery with the owner's code")
		if s := e.self(nc); s["two_factor_verified"] != true {
			t.Errorf("the owner's factor is gone after the revert: %v", s["two_factor_verified"])
		}

		// The other order: the intruder changes the address first and then
		// turns on two-factor authentication with a secret of their own.
		const bobAddr = "bob@example.com"
		e.signUp(bobAddr, twoFactorTestPassword, "")
		e.st.Clock.Advance(time.Hour)
		stolen, r := e.login(bobAddr, twoFactorTestPassword)
		e.want(r, 200, "the intruder's login")
		e.want(e.do(stolen, "POST", "/api/v1/self/update", map[string]any{"email": "mallory@example.net", "password": twoFactorTestPassword}), 200, "change")
		e.want(e.confirmChange(stolen, e.changeToken("mallory@example.net", 1)), 200, "confirm")
		e.st.Clock.Advance(time.Minute)
		e.activate(stolen)
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+e.revertToken(bobAddr, 1), nil), 200, "revert")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": bobAddr}), 200, "recover")
		nc = e.st.Client()
		r = e.do(nc, "POST", "/api/v1/recover/verify/"+e.recoverToken(bobAddr, 1), map[string]any{"password": "bob's new passphrase"})
		e.want(r, 200, "recovery without the intruder's code")
		if s := e.self(nc); s["enable_two_factor"] != false {
			t.Errorf("the intruder's factor survived the revert: %v", s)
		}
	})
}
