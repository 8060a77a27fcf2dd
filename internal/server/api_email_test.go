package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// E-mail change end to end: POST /api/v1/self/update, GET
// /api/v1/self/update/verify/{token} (Mist) and our pending/cancel/resend/
// revert paths.

func init() {
	mistRoutes["POST /api/v1/self/update"] = true
	mistRoutes["GET /api/v1/self/update/verify/{token}"] = true
}

const (
	subjectChangeVerify = "Confirm your new email address for Portal"
	subjectChanged      = "The email address of your Portal account was changed"
	subjectChangeTaken  = "Someone tried to move a Portal account to your address"
	emailPassword       = "correct horse 42"
)

// changeToken returns the token of the n-th change verification mail to addr.
func (e *apiEnv) changeToken(addr string, n int) string {
	e.t.Helper()
	return e.linkToken(e.waitMail(addr, subjectChangeVerify, n), "/account/email/verify?token=")
}

// revertToken returns the token of the n-th "address changed" notice to addr.
func (e *apiEnv) revertToken(addr string, n int) string {
	e.t.Helper()
	return e.linkToken(e.waitMail(addr, subjectChanged, n), "/account/email/revert?token=")
}

// requestChange asks for an e-mail change, with the password
// emailPassword, and expects 200.
func (e *apiEnv) requestChange(c *http.Client, email string) testenv.Response {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/self/update", map[string]any{"email": email, "password": emailPassword})
	e.want(r, 200, "request email change to "+email)
	return r
}

// confirmChange follows a change link with c.
func (e *apiEnv) confirmChange(c *http.Client, token string) testenv.Response {
	e.t.Helper()
	return e.do(c, "GET", "/api/v1/self/update/verify/"+token, nil)
}

// auditCount counts the caller's audit entries with the message.
func (e *apiEnv) auditCount(c *http.Client, message string) (n int, last map[string]any) {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self/logs?limit=1000", nil)
	e.want(r, 200, "self logs")
	for _, x := range r.JSON(e.t)["results"].([]any) {
		en := x.(map[string]any)
		if en["message"] == message {
			n++
			if last == nil {
				last = en
			}
		}
	}
	return n, last
}

// userEmail reads a user's address straight from the database.
func (e *apiEnv) userEmail(id string) string {
	e.t.Helper()
	u, err := e.st.DB.GetUser(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Email
}

// TestAPIEmailChange: the whole change, as Mist clients drive it, with the
// mails read from the SMTP server.
func TestAPIEmailChange(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const oldAddr, newAddr = "ann@example.com", "ann.lee@example.org"
		c := e.signUp(oldAddr, emailPassword, "Acme")
		id := e.self(c)["admin_id"].(string)

		r := e.requestChange(c, newAddr)
		if !strings.Contains(e.detail(r), newAddr) {
			t.Errorf("request answer does not name the new address: %s", r.Body)
		}
		if got := e.self(c)["email"]; got != oldAddr {
			t.Errorf("the address changed before the link was followed: %v", got)
		}
		p := e.do(c, "GET", "/api/v1/self/update", nil)
		e.want(p, 200, "pending change")
		pm := p.JSON(t)
		if pm["email"] != newAddr {
			t.Errorf("pending change = %s", p.Body)
		}
		if exp := int64(pm["expire_time"].(float64)); exp != e.st.Clock.Now().Add(24*time.Hour).Unix() {
			t.Errorf("expire_time %d, want now+24h = %d", exp, e.st.Clock.Now().Add(24*time.Hour).Unix())
		}

		m := e.waitMail(newAddr, subjectChangeVerify, 1)
		for _, want := range []string{oldAddr, newAddr, "24 hours"} {
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
				t.Errorf("verification mail lacks %q:\n%s", want, m.Text)
			}
		}
		token := e.changeToken(newAddr, 1)
		if len(token) < 40 {
			t.Fatalf("token %q looks weak", token)
		}

		r = e.confirmChange(c, token)
		e.want(r, 200, "confirm")
		if !strings.Contains(e.detail(r), newAddr) {
			t.Errorf("confirm answer = %s", r.Body)
		}
		if got := e.self(c)["email"]; got != newAddr {
			t.Fatalf("after confirming, email = %v, want %s", got, newAddr)
		}
		e.want(e.do(c, "GET", "/api/v1/self/update", nil), 404, "pending after confirm")

		// The link is single-use.
		r = e.confirmChange(c, token)
		e.want(r, 400, "reuse")
		if !strings.Contains(e.detail(r), "already been used") {
			t.Errorf("reuse detail = %q", e.detail(r))
		}

		// Logging in: the new address works, the old one is unknown.
		_, r = e.login(newAddr, emailPassword)
		e.want(r, 200, "login with the new address")
		_, r = e.login(oldAddr, emailPassword)
		e.want(r, 400, "login with the old address")

		// The old address gets a notice with a "this wasn't me" link.
		n := e.waitMail(oldAddr, subjectChanged, 1)
		for _, want := range []string{oldAddr, newAddr, "7 days", e.st.URL + "/account/email/revert?token="} {
			if !strings.Contains(n.Text, want) {
				t.Errorf("change notice lacks %q:\n%s", want, n.Text)
			}
		}
		if !strings.Contains(n.HTML, "This wasn&rsquo;t me") {
			t.Errorf("change notice HTML has no \"This wasn't me\" button:\n%s", n.HTML)
		}

		// Audit: the request and the change with before and after.
		if k, _ := e.auditCount(c, "Requested email change"); k != 1 {
			t.Errorf("%d request entries, want 1", k)
		}
		k, en := e.auditCount(c, "Changed email address")
		if k != 1 || en["before"].(map[string]any)["email"] != oldAddr || en["after"].(map[string]any)["email"] != newAddr {
			t.Errorf("change audit entries: %d, %v", k, en)
		}
		if got := e.userEmail(id); got != newAddr {
			t.Errorf("database holds %q", got)
		}
	})
}

// TestAPIEmailChangeBadInput: each mistake is a clear 4xx and changes nothing.
func TestAPIEmailChangeBadInput(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const ann = "ann@example.com"
		c := e.signUp(ann, emailPassword, "")
		bob := e.signUp("bob@example.com", emailPassword, "")

		for _, tc := range []struct {
			body any
			want string
		}{
			{map[string]any{"email": "not an address"}, "not a valid email address"},
			{map[string]any{"email": "ann@"}, "not a valid email address"},
			{map[string]any{"email": ""}, "email is required"},
			{map[string]any{}, "email is required"},
			{map[string]any{"email": 42}, "must be of type string"},
			{map[string]any{"email": strings.Repeat("a", 250) + "@example.com"}, "at most 254"},
			{map[string]any{"email": ann}, "already your email address"},
			{map[string]any{"email": " " + ann + " "}, "already your email address"},
		} {
			r := e.do(c, "POST", "/api/v1/self/update", tc.body)
			e.want(r, 400, "bad request body")
			if !strings.Contains(e.detail(r), tc.want) {
				t.Errorf("%v: detail %q, want it to say %q", tc.body, e.detail(r), tc.want)
			}
		}
		e.want(e.do(c, "GET", "/api/v1/self/update", nil), 404, "nothing pending after bad requests")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update", map[string]any{"email": "x@example.com"}), 401, "no session")
		if r := e.raw(c, "POST", "/api/v1/self/update", `{"email":"x@example.com"}`, nil); r.Status != 403 {
			t.Errorf("no CSRF header: %d %s", r.Status, r.Body)
		}

		// A link followed by another logged-in user: 403, nothing changed,
		// the link still works for its owner.
		e.requestChange(c, "ann.new@example.com")
		token := e.changeToken("ann.new@example.com", 1)
		r := e.confirmChange(bob, token)
		e.want(r, 403, "another user's link")
		if !strings.Contains(e.detail(r), "another account") {
			t.Errorf("foreign link detail = %q", e.detail(r))
		}
		if got := e.self(bob)["email"]; got != "bob@example.com" {
			t.Errorf("bob's address changed to %v", got)
		}
		if got := e.self(c)["email"]; got != ann {
			t.Errorf("ann's address changed to %v", got)
		}
		e.want(e.do(c, "GET", "/api/v1/self/update", nil), 200, "still pending after a foreign follow")
		e.want(e.confirmChange(e.st.Client(), token), 401, "not logged in")

		// Unknown and malformed tokens.
		for _, tok := range []string{"nope", strings.Repeat("x", 43), strings.Repeat("y", 300)} {
			r := e.confirmChange(c, tok)
			e.want(r, 404, "unknown token")
			if !strings.Contains(e.detail(r), "invalid") {
				t.Errorf("unknown token detail = %q", e.detail(r))
			}
		}

		// A newer request replaces the older: the old link is gone.
		e.requestChange(c, "ann.newer@example.com")
		newer := e.changeToken("ann.newer@example.com", 1)
		e.want(e.confirmChange(c, token), 404, "replaced link")
		if p := e.do(c, "GET", "/api/v1/self/update", nil).JSON(t); p["email"] != "ann.newer@example.com" {
			t.Errorf("pending after a newer request = %v", p)
		}

		// Expired after 24 hours (the session, used meanwhile, lives on).
		e.st.Clock.Advance(12 * time.Hour)
		e.self(c)
		e.st.Clock.Advance(12*time.Hour + time.Second)
		r = e.confirmChange(c, newer)
		e.want(r, 400, "expired link")
		if !strings.Contains(e.detail(r), "expired") {
			t.Errorf("expired detail = %q", e.detail(r))
		}
		e.want(e.do(c, "GET", "/api/v1/self/update", nil), 404, "an expired change is not pending")

		// The new address taken by another account meanwhile.
		e.requestChange(c, "carol@example.com")
		carolToken := e.changeToken("carol@example.com", 1)
		e.signUp("carol@example.com", emailPassword, "")
		r = e.confirmChange(c, carolToken)
		e.want(r, 400, "address taken meanwhile")
		if d := e.detail(r); !strings.Contains(d, "carol@example.com is now used by another account") || !strings.Contains(d, "nothing was changed") {
			t.Errorf("taken detail = %q", d)
		}
		if got := e.self(c)["email"]; got != ann {
			t.Errorf("ann's address after a refused change = %v", got)
		}
		if k, _ := e.auditCount(c, "Changed email address"); k != 0 {
			t.Errorf("%d change audit entries after refusals", k)
		}
		for _, m := range e.mailsTo(ann) {
			if m.Subject == subjectChanged {
				t.Errorf("a change notice went to ann, whose address never changed")
			}
		}
	})
}

// TestAPIEmailChangeNoReveal: asking for an address that has an account
// answers exactly as for a free one; its owner is told, the requester
// gets nothing that could be confirmed.
func TestAPIEmailChangeNoReveal(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", emailPassword, "")
		e.signUp("bob@example.com", emailPassword, "")

		norm := func(r testenv.Response, addr string) string {
			return strconv.Itoa(r.Status) + " " + strings.ReplaceAll(string(r.Body), addr, "<addr>")
		}
		pendingNorm := func(addr string) string {
			r := e.do(c, "GET", "/api/v1/self/update", nil)
			return norm(r, addr)
		}
		free := e.requestChange(c, "free@example.com")
		freePending := pendingNorm("free@example.com")
		taken := e.requestChange(c, "BOB@example.com")
		if a, b := norm(free, "free@example.com"), norm(taken, "bob@example.com"); a != b { // the address normalised
			t.Errorf("request answers differ:\nfree:  %s\ntaken: %s", a, b)
		}
		if a, b := freePending, pendingNorm("bob@example.com"); a != b {
			t.Errorf("pending answers differ:\nfree:  %s\ntaken: %s", a, b)
		}

		// Bob is told, with no link that changes anything.
		m := e.waitMail("bob@example.com", subjectChangeTaken, 1)
		if strings.Contains(m.Text, "/account/email/verify") || strings.Contains(m.Text, "ann@example.com") {
			t.Errorf("notice to the taken address's owner:\n%s", m.Text)
		}
		e.waitMail("free@example.com", subjectChangeVerify, 1)
		for _, m := range e.mailsTo("bob@example.com") {
			if m.Subject == subjectChangeVerify {
				t.Errorf("a verification link went to a taken address")
			}
		}
	})
}

// TestAPIEmailChangeCancelResend: resend replaces the link, cancel voids it.
func TestAPIEmailChangeCancelResend(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", emailPassword, "")
		const to = "ann2@example.com"

		e.want(e.do(c, "POST", "/api/v1/self/update/resend", nil), 404, "resend with nothing pending")
		e.want(e.do(c, "DELETE", "/api/v1/self/update", nil), 404, "cancel with nothing pending")

		e.requestChange(c, to)
		first := e.changeToken(to, 1)
		e.st.Clock.Advance(time.Hour)
		r := e.do(c, "POST", "/api/v1/self/update/resend", nil)
		e.want(r, 200, "resend")
		if !strings.Contains(e.detail(r), to) {
			t.Errorf("resend answer = %s", r.Body)
		}
		second := e.changeToken(to, 2)
		if second == first {
			t.Fatal("resend mailed the same token")
		}
		if p := e.do(c, "GET", "/api/v1/self/update", nil).JSON(t); int64(p["expire_time"].(float64)) != e.st.Clock.Now().Add(24*time.Hour).Unix() {
			t.Errorf("resend did not renew the expiry: %v", p)
		}
		e.want(e.confirmChange(c, first), 404, "the link before the resend")
		if k, en := e.auditCount(c, "Resent email change link"); k != 1 || en["after"].(map[string]any)["email"] != to {
			t.Errorf("resend audit: %d %v", k, en)
		}

		r = e.do(c, "DELETE", "/api/v1/self/update", nil)
		e.want(r, 200, "cancel")
		e.want(e.do(c, "GET", "/api/v1/self/update", nil), 404, "pending after cancel")
		e.want(e.confirmChange(c, second), 404, "the link after cancel")
		if got := e.self(c)["email"]; got != "ann@example.com" {
			t.Errorf("email after cancel = %v", got)
		}
		if k, en := e.auditCount(c, "Cancelled email change"); k != 1 || en["before"].(map[string]any)["email"] != to {
			t.Errorf("cancel audit: %d %v", k, en)
		}

		// At most 5 change mails an hour (2 so far).
		for i := range 3 {
			e.requestChange(c, "ann"+strconv.Itoa(i+3)+"@example.com")
		}
		r = e.do(c, "POST", "/api/v1/self/update", map[string]any{"email": "ann9@example.com", "password": emailPassword})
		e.want(r, 429, "sixth change mail within an hour")
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra <= 0 || ra > 3600 {
			t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
		e.want(e.do(c, "POST", "/api/v1/self/update/resend", nil), 429, "resend over the limit")
		e.st.Clock.Advance(time.Hour + time.Second)
		e.requestChange(c, "ann9@example.com")
	})
}

// TestAPIEmailChangeRevert: "this wasn't me" from the old mailbox.
func TestAPIEmailChangeRevert(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const a, b, cc = "ann@example.com", "mallory@example.net", "mallory2@example.net"
		c := e.signUp(a, emailPassword, "")
		id := e.self(c)["admin_id"].(string)
		other, r := e.login(a, emailPassword)
		e.want(r, 200, "second session")

		// Someone in the account changes the address twice and starts a third change.
		e.requestChange(c, b)
		e.want(e.confirmChange(c, e.changeToken(b, 1)), 200, "change to b")
		e.st.Clock.Advance(time.Minute)
		e.requestChange(c, cc)
		e.want(e.confirmChange(c, e.changeToken(cc, 1)), 200, "change to c")
		e.requestChange(c, "mallory3@example.net")
		ra := e.revertToken(a, 1) // from the owner's mailbox
		rb := e.revertToken(b, 1) // from the second address's
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/nope", nil), 404, "unknown revert token")

		// The owner's link: no session needed.
		r = e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+ra, nil)
		e.want(r, 200, "revert")
		if dt := e.detail(r); !strings.Contains(dt, a) || !strings.Contains(dt, "Forgot password?") {
			t.Errorf("revert detail = %q", dt)
		}
		if got := e.userEmail(id); got != a {
			t.Errorf("address after revert = %q, want %q", got, a)
		}
		// Every session is signed out.
		for i, cl := range []*http.Client{c, other} {
			if r := e.do(cl, "GET", "/api/v1/self", nil); r.Status != 401 {
				t.Errorf("session %d after revert: %d %s", i, r.Status, r.Body)
			}
		}
		// Login is refused until a new password is set.
		_, r = e.login(a, emailPassword)
		e.want(r, 403, "login after revert")
		if m := r.JSON(t); m["password_reset_required"] != true || !strings.Contains(e.detail(r), "Forgot password?") {
			t.Errorf("login after revert = %s", r.Body)
		}
		_, r = e.login(cc, emailPassword)
		e.want(r, 400, "login with the reverted address")
		// The link is single-use; the later change's link and the pending change are void.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+ra, nil), 400, "revert reuse")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+rb, nil), 404, "later revert link")
		if got := e.userEmail(id); got != a {
			t.Errorf("address after the later link = %q", got)
		}
		if _, err := e.st.DB.PendingEmailToken(context.Background(), id, "email_change", e.st.Clock.Now()); err == nil {
			t.Error("the pending change survived the revert")
		}
	})
}

// TestAPIEmailChangeRevertOrder: the owner's (oldest) link wins even when
// a later one was used first; the old address taken meanwhile is refused.
func TestAPIEmailChangeRevertOrder(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", emailPassword, "")
		id := e.self(c)["admin_id"].(string)
		e.requestChange(c, "b@example.net")
		e.want(e.confirmChange(c, e.changeToken("b@example.net", 1)), 200, "change to b")
		e.st.Clock.Advance(time.Minute)
		e.requestChange(c, "c@example.net")
		e.want(e.confirmChange(c, e.changeToken("c@example.net", 1)), 200, "change to c")
		ra, rb := e.revertToken("ann@example.com", 1), e.revertToken("b@example.net", 1)

		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+rb, nil), 200, "later link first")
		if got := e.userEmail(id); got != "b@example.net" {
			t.Fatalf("after the later link: %q", got)
		}
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+ra, nil), 200, "owner's link after")
		if got := e.userEmail(id); got != "ann@example.com" {
			t.Fatalf("after the owner's link: %q", got)
		}

		// Another account: its old address is taken before the revert.
		d2 := e.signUp("dan@example.com", emailPassword, "")
		e.requestChange(d2, "dan@example.org")
		e.want(e.confirmChange(d2, e.changeToken("dan@example.org", 1)), 200, "dan changes")
		rd := e.revertToken("dan@example.com", 1)
		// Someone else signs up with it (the second sign-up mail to it).
		e.want(e.register(e.st.Client(), "dan@example.com", emailPassword, nil), 200, "sign-up with dan's old address")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/register/verify/"+e.verifyToken("dan@example.com", 2), nil), 200, "verify")
		r := e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+rd, nil)
		e.want(r, 400, "revert to a taken address")
		if dt := e.detail(r); !strings.Contains(dt, "dan@example.com is now used by another account; nothing was changed") {
			t.Errorf("detail = %q", dt)
		}
		if got := e.self(d2)["email"]; got != "dan@example.org" {
			t.Errorf("dan after a refused revert: %v (and still signed in)", got)
		}
		// Expired after 7 days.
		e.st.Clock.Advance(7*24*time.Hour + time.Second)
		r = e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+rd, nil)
		e.want(r, 400, "expired revert link")
		if !strings.Contains(e.detail(r), "expired") {
			t.Errorf("detail = %q", e.detail(r))
		}
	})
}

// TestAPIEmailChangeRace: concurrent confirmations of one link leave
// exactly one change and one audit entry.
func TestAPIEmailChangeRace(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", emailPassword, "")
		const n = 8
		clients := []*http.Client{c}
		for range n - 1 {
			cl, r := e.login("ann@example.com", emailPassword)
			e.want(r, 200, "login")
			clients = append(clients, cl)
		}
		for round, to := range []string{"r1@example.com", "r2@example.com"} {
			e.requestChange(clients[0], to)
			token := e.changeToken(to, 1)
			confirms := make([]func() int, n)
			for i := range n {
				confirms[i] = func() int { return e.st.Do(t, clients[i], "GET", "/api/v1/self/update/verify/"+token, nil).Status }
			}
			statuses, okN := race(t, fmt.Sprintf("round %d", round), []int{400}, confirms...)
			if okN != 1 {
				t.Errorf("round %d: %d confirmations succeeded (%v), want exactly 1", round, okN, statuses)
			}
			if got := e.self(clients[0])["email"]; got != to {
				t.Errorf("round %d: email %v", round, got)
			}
		}
		if k, _ := e.auditCount(clients[0], "Changed email address"); k != 2 {
			t.Errorf("%d change audit entries for 2 changes", k)
		}
		// One notice per change (queued in the change's transaction).
		e.waitMail("ann@example.com", subjectChanged, 1)
		e.waitMail("r1@example.com", subjectChanged, 1)
	})
}
