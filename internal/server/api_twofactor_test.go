package server_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"portal"
	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// The two-factor paths are Mist's: their answers are validated against the
// Mist document (api_helpers_test.go).
func init() {
	for _, r := range []string{"POST /api/v1/login/two_factor", "GET /api/v1/self/two_factor/token",
		"POST /api/v1/self/two_factor/verify", "PUT /api/v1/self"} {
		mistRoutes[r] = true
	}
}

const (
	subjectTwoFactorOn       = "Two-factor authentication is on for your Portal account"
	subjectTwoFactorOff      = "Two-factor authentication is off for your Portal account"
	subjectTwoFactorLocked   = "Wrong two-factor codes for your Portal account"
	subjectRecoveryCodeUsed  = "A recovery code was used for your Portal account"
	subjectNewRecoveryCodes  = "New recovery codes for your Portal account"
	twoFactorTestPassword    = "correct horse 2fa"
	twoFactorTestOrg         = "Acme"
	pendingDetailForOthers   = "two-factor authentication required"
	enrolmentDetailForOthers = "requires two-factor authentication"
)

// code is what the authenticator app shows at the stack's clock, shifted
// by steps of 30 seconds.
func (e *apiEnv) code(secret string, steps int) string {
	e.t.Helper()
	c, err := authn.TOTPCode(secret, e.st.Clock.Now().Add(time.Duration(steps)*authn.TOTPPeriod*time.Second))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// alignClock moves the clock to the start of the next 30-second step, plus
// offset seconds.
func (e *apiEnv) alignClock(offset int) {
	now := e.st.Clock.Now()
	next := time.Unix((now.Unix()/authn.TOTPPeriod+1)*authn.TOTPPeriod+int64(offset), 0)
	e.st.Clock.Advance(next.Sub(now))
}

// enrol turns two-factor authentication on for c's user (without verifying)
// and returns the secret.
func (e *apiEnv) enrol(c *http.Client) string {
	e.t.Helper()
	e.want(e.do(c, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true}), 200, "enable_two_factor")
	r := e.do(c, "GET", "/api/v1/self/two_factor/token?by=qrcode", nil)
	e.want(r, 200, "two_factor token")
	secret, _ := r.JSON(e.t)["two_factor_secret"].(string)
	if len(secret) != 32 {
		e.t.Fatalf("two_factor_secret %q: want 32 base32 characters", secret)
	}
	return secret
}

// activate enrols and verifies with the current code; it returns the secret
// and the recovery codes.
func (e *apiEnv) activate(c *http.Client) (string, []string) {
	e.t.Helper()
	secret := e.enrol(c)
	r := e.do(c, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0)})
	e.want(r, 200, "verify")
	var codes []string
	for _, x := range r.JSON(e.t)["recovery_codes"].([]any) {
		codes = append(codes, x.(string))
	}
	if len(codes) != 10 {
		e.t.Fatalf("verify gave %d recovery codes, want 10: %s", len(codes), r.Body)
	}
	return secret, codes
}

// pendingLogin logs in with the password only and checks the Mist answer
// of a login that owes its second factor.
func (e *apiEnv) pendingLogin(email string) *http.Client {
	e.t.Helper()
	c, r := e.login(email, twoFactorTestPassword)
	e.want(r, 200, "login")
	if m := r.JSON(e.t); m["email"] != email || m["two_factor_required"] != true || m["two_factor_passed"] != false {
		e.t.Fatalf("login of a 2FA account = %s, want two_factor_required true, two_factor_passed false", r.Body)
	}
	return c
}

// passCode sends POST /api/v1/login/two_factor.
func (e *apiEnv) passCode(c *http.Client, code string) testenv.Response {
	e.t.Helper()
	return e.do(c, "POST", "/api/v1/login/two_factor", map[string]any{"two_factor": code})
}

func (e *apiEnv) hasAudit(c *http.Client, message string) bool {
	e.t.Helper()
	return slices.ContainsFunc(e.auditEntries(c), func(m map[string]any) bool { return m["message"] == message })
}

// TestAPITwoFactorMistFlow is the Mist flow a script follows: enable,
// read the secret (JSON and QR code), verify, log in again with the
// second step, with the code in the login body, with a recovery code; make
// new recovery codes; turn it off.
func TestAPITwoFactorMistFlow(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, twoFactorTestOrg)
		org := e.firstOrg(ann)
		self := e.self(ann)
		for _, k := range []string{"enable_two_factor", "two_factor_verified", "two_factor_required", "two_factor_passed"} {
			if self[k] != false {
				t.Errorf("before enrolment %s = %v, want false", k, self[k])
			}
		}

		// Enrolment: a fresh secret, not verified.
		r := e.do(ann, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true})
		e.want(r, 200, "enable")
		if m := r.JSON(t); m["enable_two_factor"] != true || m["two_factor_verified"] != false {
			t.Errorf("after enabling: %s", r.Body)
		}
		r = e.do(ann, "GET", "/api/v1/self/two_factor/token?by=qrcode", nil)
		e.want(r, 200, "token")
		first := r.JSON(t)["two_factor_secret"].(string)
		uri := r.JSON(t)["two_factor_uri"].(string)
		// Enabling again before verifying makes a new secret.
		e.want(e.do(ann, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true}), 200, "enable again")
		secret := e.do(ann, "GET", "/api/v1/self/two_factor/token", nil).JSON(t)["two_factor_secret"].(string)
		if secret == first {
			t.Error("enabling again kept the same secret")
		}
		uri = strings.Replace(uri, first, secret, 1)

		// The QR code as a PNG, for clients that ask for an image.
		for _, accept := range []string{"image/png", "application/octet-stream"} {
			pr := sendRaw(t, e.st, ann, "GET", "/api/v1/self/two_factor/token?by=qrcode", nil, false, map[string]string{"Accept": accept})
			if pr.Status != 200 || pr.Header.Get("Content-Type") != accept {
				t.Fatalf("Accept %s: %d %s", accept, pr.Status, pr.Header.Get("Content-Type"))
			}
			if got := decodeQR(t, pr.Body); got != uri {
				t.Errorf("QR code (Accept %s) carries %q, want %q", accept, got, uri)
			}
		}
		u, _ := url.Parse(uri)
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("issuer") != "Portal" || u.Path != "/Portal:"+email || u.Query().Get("secret") != secret {
			t.Errorf("otpauth URI %q: want issuer Portal and account %s", uri, email)
		}
		e.want(e.do(ann, "GET", "/api/v1/self/two_factor/token?by=sms", nil), 400, "by=sms")

		// Until verified, login does not ask for a code.
		_, lr := e.login(email, twoFactorTestPassword)
		if m := lr.JSON(t); m["two_factor_required"] != false {
			t.Errorf("login before verification: %s", lr.Body)
		}

		// A wrong code, then the right one.
		wrong := "000000"
		if wrong == e.code(secret, 0) {
			wrong = "000001"
		}
		r = e.do(ann, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": wrong})
		e.want(r, 400, "wrong code")
		if !strings.Contains(e.detail(r), "not correct") {
			t.Errorf("wrong code detail %q", e.detail(r))
		}
		r = e.do(ann, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0)})
		e.want(r, 200, "verify")
		var codes []string
		for _, x := range r.JSON(t)["recovery_codes"].([]any) {
			codes = append(codes, x.(string))
		}
		if len(codes) != 10 {
			t.Fatalf("%d recovery codes", len(codes))
		}
		self = e.self(ann)
		if self["enable_two_factor"] != true || self["two_factor_verified"] != true || self["two_factor_passed"] != true || self["two_factor_required"] != false {
			t.Errorf("self after verification: enable %v verified %v passed %v required %v", self["enable_two_factor"], self["two_factor_verified"], self["two_factor_passed"], self["two_factor_required"])
		}
		r = e.do(ann, "GET", "/api/v1/self/two_factor/token", nil)
		e.want(r, 400, "secret after verification")
		if strings.Contains(string(r.Body), secret) {
			t.Error("the secret is shown after verification")
		}
		e.waitMail(email, subjectTwoFactorOn, 1)
		if !e.hasAudit(ann, "Enabled two-factor authentication") {
			t.Error("no audit entry for enabling")
		}
		logs := e.do(ann, "GET", "/api/v1/self/logs?duration=1w", nil)
		for _, secretish := range append([]string{secret, e.code(secret, 0)}, codes...) {
			if bytes.Contains(logs.Body, []byte(secretish)) {
				t.Errorf("the audit log holds a secret or code %q", secretish)
			}
		}

		// Log in again: the session owes its second factor.
		c := e.pendingLogin(email)
		r = e.do(c, "GET", "/api/v1/self", nil)
		e.want(r, 200, "pending self")
		if m := r.JSON(t); len(m) != 3 || m["email"] != email || m["two_factor_required"] != true || m["two_factor_passed"] != false {
			t.Errorf("self of a pending session = %s, want only email and the two keys", r.Body)
		}
		for _, call := range [][2]string{{"GET", "/api/v1/self/logs"}, {"GET", "/api/v1/orgs/" + org}, {"PUT", "/api/v1/self"},
			{"GET", "/api/v1/self/sessions"}, {"GET", "/api/v1/self/two_factor/recovery_codes"}, {"POST", "/api/v1/self/two_factor/verify"}} {
			var body any
			if call[0] != "GET" {
				body = map[string]any{"first_name": "Eve", "two_factor": "123456"}
			}
			r := e.do(c, call[0], call[1], body)
			e.want(r, 401, "pending session: "+call[0]+" "+call[1])
			if !strings.Contains(e.detail(r), pendingDetailForOthers) || r.JSON(t)["two_factor_required"] != true {
				t.Errorf("%s %s of a pending session: %s", call[0], call[1], r.Body)
			}
		}
		// The code used to verify is not accepted again (same step).
		e.want(e.passCode(c, e.code(secret, 0)), 400, "replayed code")
		e.st.Clock.Advance(30 * time.Second)
		r = e.passCode(c, e.code(secret, 0))
		e.want(r, 200, "second factor")
		if m := r.JSON(t); m["two_factor_passed"] != true || m["two_factor_required"] != false {
			t.Errorf("answer to two_factor: %s", r.Body)
		}
		if s := e.self(c); s["two_factor_passed"] != true || s["two_factor_required"] != false || s["admin_id"] == nil {
			t.Errorf("self after the second factor: %v", s)
		}
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 200, "org after the second factor")

		// An API token's /self tells the truth about two-factor authentication too.
		r = e.do(c, "POST", "/api/v1/self/apitokens", map[string]any{"name": "script"})
		e.want(r, 200, "API token")
		tr := sendRaw(t, e.st, e.st.Client(), "GET", "/api/v1/self", nil, false, map[string]string{"Authorization": "Token " + r.JSON(t)["key"].(string)})
		e.check("GET", "/api/v1/self", tr)
		if m := tr.JSON(t); m["enable_two_factor"] != true || m["two_factor_verified"] != true || m["two_factor_required"] != false {
			t.Errorf("self by API token: %s", tr.Body)
		}

		// The code in the login body (Mist's one-request login).
		e.st.Clock.Advance(30 * time.Second)
		c2 := e.st.Client()
		r = e.do(c2, "POST", "/api/v1/login", map[string]any{"email": email, "password": twoFactorTestPassword, "two_factor": e.code(secret, 0)})
		e.want(r, 200, "login with code")
		if m := r.JSON(t); m["two_factor_required"] != false || m["two_factor_passed"] != true {
			t.Errorf("login with a code: %s", r.Body)
		}
		e.want(e.do(c2, "GET", "/api/v1/orgs/"+org, nil), 200, "org after login with code")
		c3 := e.st.Client()
		r = e.do(c3, "POST", "/api/v1/login", map[string]any{"email": email, "password": twoFactorTestPassword, "two_factor": wrongCode(e.code(secret, 0))})
		e.want(r, 400, "login with a wrong code")
		e.want(e.do(c3, "GET", "/api/v1/self", nil), 401, "no session after a wrong code in the login")

		// A recovery code instead, once.
		c4 := e.pendingLogin(email)
		e.want(e.passCode(c4, strings.ToUpper(codes[3])), 200, "recovery code")
		e.waitMail(email, subjectRecoveryCodeUsed, 1)
		c5 := e.pendingLogin(email)
		r = e.passCode(c5, codes[3])
		e.want(r, 400, "recovery code twice")
		if !strings.Contains(e.detail(r), "already used") {
			t.Errorf("reused recovery code: %q", e.detail(r))
		}
		r = e.do(ann, "GET", "/api/v1/self/two_factor/recovery_codes", nil)
		e.want(r, 200, "recovery codes")
		if m := r.JSON(t); m["remaining"] != 9.0 || m["total"] != 10.0 || m["low"] != false {
			t.Errorf("recovery code state: %s", r.Body)
		}
		if !e.hasAudit(ann, "Used a recovery code for two-factor authentication") {
			t.Error("no audit entry for the recovery code")
		}

		// A new set voids the old one; it needs the password.
		e.want(e.do(ann, "POST", "/api/v1/self/two_factor/recovery_codes", map[string]any{}), 400, "new codes without password")
		e.want(e.do(ann, "POST", "/api/v1/self/two_factor/recovery_codes", map[string]any{"password": "not it"}), 400, "new codes, wrong password")
		r = e.do(ann, "POST", "/api/v1/self/two_factor/recovery_codes", map[string]any{"password": twoFactorTestPassword})
		e.want(r, 200, "new codes")
		newCodes := r.JSON(t)["recovery_codes"].([]any)
		if len(newCodes) != 10 || r.JSON(t)["remaining"] != 10.0 {
			t.Fatalf("new codes: %s", r.Body)
		}
		e.waitMail(email, subjectNewRecoveryCodes, 1)
		e.want(e.passCode(c5, codes[5]), 400, "old recovery code after a new set")
		e.want(e.passCode(c5, newCodes[0].(string)), 200, "new recovery code")

		// Turning it off needs the password and a code.
		e.st.Clock.Advance(30 * time.Second)
		off := func(body map[string]any) testenv.Response {
			body["enable_two_factor"] = false
			return e.do(ann, "PUT", "/api/v1/self", body)
		}
		e.want(off(map[string]any{}), 400, "off without password")
		e.want(off(map[string]any{"current_password": twoFactorTestPassword}), 400, "off without code")
		e.want(off(map[string]any{"two_factor": e.code(secret, 0)}), 400, "off without password, with code")
		r = off(map[string]any{"current_password": "wrong password", "two_factor": e.code(secret, 0)})
		e.want(r, 400, "off with a wrong password")
		if m := r.JSON(t); m["field"] != "current_password" || m["current_password_incorrect"] != true || strings.Contains(e.detail(r), "current_password") {
			t.Errorf("wrong password answer: %s", r.Body)
		}
		e.want(off(map[string]any{"current_password": twoFactorTestPassword, "two_factor": wrongCode(e.code(secret, 0))}), 400, "off with a wrong code")
		if s := e.self(ann); s["two_factor_verified"] != true {
			t.Fatal("a refused change turned two-factor authentication off")
		}
		r = off(map[string]any{"current_password": twoFactorTestPassword, "two_factor": e.code(secret, 0)})
		e.want(r, 200, "off")
		if m := r.JSON(t); m["enable_two_factor"] != false || m["two_factor_verified"] != false {
			t.Errorf("after turning off: %s", r.Body)
		}
		e.waitMail(email, subjectTwoFactorOff, 1)
		if !e.hasAudit(ann, "Disabled two-factor authentication") {
			t.Error("no audit entry for disabling")
		}
		_, lr = e.login(email, twoFactorTestPassword)
		if m := lr.JSON(t); m["two_factor_required"] != false {
			t.Errorf("login after turning off: %s", lr.Body)
		}
		e.want(e.do(ann, "GET", "/api/v1/self/two_factor/recovery_codes", nil), 404, "recovery codes after turning off")
	})
}

func wrongCode(right string) string {
	if right == "999999" {
		return "999998"
	}
	return "999999"
}

// decodeQR reads the text of a QR code PNG.
func decodeQR(t testing.TB, b []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR code: %v", err)
	}
	return res.GetText()
}

// TestAPITwoFactorClock: codes at the edges of the one-step skew, expired
// codes, a replay within the same step, and several concurrent requests
// with the same code, of which exactly one succeeds.
func TestAPITwoFactorClock(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "clock@example.com"
		c := e.signUp(email, twoFactorTestPassword, "")
		e.alignClock(0)
		secret, _ := e.activate(c) // uses step S0

		// At the last second of step S = S0+5.
		e.alignClock(4*30 + 29)
		for _, tc := range []struct {
			name  string
			steps int
			want  int
		}{
			{"expired (two steps back)", -2, 400},
			{"too early (two steps ahead)", 2, 400},
			{"one step back, at the edge", -1, 200},
			{"replay in the same step", -1, 400},
			{"a code older than the last used", -1, 400},
		} {
			r := e.passCode(e.pendingLogin(email), e.code(secret, tc.steps))
			e.want(r, tc.want, tc.name)
			if tc.want == 400 && r.JSON(t)["two_factor_incorrect"] != true {
				t.Errorf("%s: %s", tc.name, r.Body)
			}
		}
		e.st.Clock.Advance(time.Second) // the first second of step S+1
		for _, tc := range []struct {
			name  string
			steps int
			want  int
		}{
			{"one step back at the start of a step", -1, 200}, // S's code, not used before
			{"current step", 0, 200},
			{"one step ahead", 1, 200},
			{"current step after a later one", 0, 400},
			{"expired", -2, 400},
		} {
			e.want(e.passCode(e.pendingLogin(email), e.code(secret, tc.steps)), tc.want, tc.name)
		}

		// Concurrent requests with the same fresh code: exactly one passes.
		e.alignClock(30 + 5)
		const n = 6
		clients := make([]*http.Client, n)
		for i := range clients {
			clients[i] = e.pendingLogin(email)
		}
		code := e.code(secret, 0)
		passes := make([]func() int, n)
		for i := range n {
			passes[i] = func() int {
				return e.st.Do(t, clients[i], "POST", "/api/v1/login/two_factor", map[string]any{"two_factor": code}).Status
			}
		}
		statuses, passed := race(t, "concurrent requests", []int{400}, passes...)
		if passed != 1 {
			t.Fatalf("%d of %d concurrent requests with the same code passed (statuses %v), want exactly 1", passed, n, statuses)
		}
		for i, cl := range clients {
			s := e.do(cl, "GET", "/api/v1/self", nil).JSON(t)
			if (statuses[i] == 200) != (s["two_factor_passed"] == true) {
				t.Errorf("client %d (status %d): self %v", i, statuses[i], s)
			}
		}
	})
}

// TestAPITwoFactorLockout: wrong codes lock the second factor with a
// growing delay (429 with an integer Retry-After, honoured), the owner is
// mailed and the lockout audit-logged.
func TestAPITwoFactorLockout(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "locked@example.com"
		owner := e.signUp(email, twoFactorTestPassword, "")
		e.alignClock(0)
		secret, _ := e.activate(owner)
		e.st.Clock.Advance(30 * time.Second)
		c := e.pendingLogin(email)
		bad := wrongCode(e.code(secret, 0))
		for i := 1; i <= 4; i++ {
			r := e.passCode(c, bad)
			e.want(r, 400, "wrong code "+strconv.Itoa(i))
		}
		r := e.passCode(c, bad)
		e.want(r, 429, "fifth wrong code")
		if r.Header.Get("Retry-After") != "60" {
			t.Errorf("Retry-After %q, want 60", r.Header.Get("Retry-After"))
		}
		// Locked: even the right code waits.
		r = e.passCode(c, e.code(secret, 0))
		e.want(r, 429, "right code while locked")
		e.waitMail(email, subjectTwoFactorLocked, 1)

		// After the lock, one more wrong code locks for twice as long.
		e.st.Clock.Advance(61 * time.Second)
		r = e.passCode(c, wrongCode(e.code(secret, 0)))
		e.want(r, 429, "sixth wrong code")
		if r.Header.Get("Retry-After") != "120" {
			t.Errorf("Retry-After %q after the sixth wrong code, want 120 (growing)", r.Header.Get("Retry-After"))
		}
		if n := e.countMails(email, subjectTwoFactorLocked); n != 1 {
			t.Errorf("%d lockout mails, want 1", n)
		}
		e.st.Clock.Advance(121 * time.Second)
		e.want(e.passCode(c, e.code(secret, 0)), 200, "right code after the lock")
		if !e.hasAudit(c, "Two-factor authentication locked after wrong codes") {
			t.Error("no audit entry for the lockout")
		}
		// Passing resets the count.
		e.st.Clock.Advance(30 * time.Second)
		c2 := e.pendingLogin(email)
		e.want(e.passCode(c2, wrongCode(e.code(secret, 0))), 400, "a wrong code after a reset")
	})
}

// TestAPITwoFactorBadInput: malformed codes, verifying without enrolment,
// disabling without the password, and a session that has not given its
// second factor reaching for other routes.
func TestAPITwoFactorBadInput(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "bad@example.com"
		c := e.signUp(email, twoFactorTestPassword, twoFactorTestOrg)

		r := e.do(c, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": "123456"})
		e.want(r, 404, "verify without enrolment")
		if !strings.Contains(e.detail(r), "enable_two_factor") {
			t.Errorf("verify without enrolment: %q", e.detail(r))
		}
		e.want(e.do(c, "GET", "/api/v1/self/two_factor/token", nil), 404, "token without enrolment")
		e.want(e.passCode(c, "123456"), 404, "second factor without 2FA")
		e.want(e.do(c, "GET", "/api/v1/self/two_factor/recovery_codes", nil), 404, "recovery codes without 2FA")

		secret := e.enrol(c)
		for _, bad := range []any{"12a456", "abcdef", "12345", "1234567", "", "１２３４５６", "123-456", 123456, nil} {
			r := e.do(c, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": bad})
			e.want(r, 400, "verify with "+strconv.Quote(strings.TrimSpace(toString(bad))))
			if e.detail(r) == "" {
				t.Errorf("%v: no detail", bad)
			}
		}
		e.want(e.do(c, "POST", "/api/v1/self/two_factor/verify", `{"two_factor":`), 400, "broken JSON")
		// Malformed codes are not counted as guesses.
		r = e.do(c, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": e.code(secret, 0)[:3] + " " + e.code(secret, 0)[3:]})
		e.want(r, 200, "verify with the app's spaced code")
		e.st.Clock.Advance(30 * time.Second)

		p := e.pendingLogin(email)
		for _, bad := range []string{"12a456", "12345", "1234567", "", "abcd-efgh", "abcd-efgh-jkmn-pqrs-tvwx"} {
			r := e.passCode(p, bad)
			e.want(r, 400, "second factor with "+strconv.Quote(bad))
			if e.detail(r) == "" {
				t.Errorf("%q: no detail", bad)
			}
		}
		org := e.firstOrg(c)
		for _, call := range [][2]string{{"GET", "/api/v1/orgs/" + org + "/sites"}, {"POST", "/api/v1/orgs"}, {"DELETE", "/api/v1/self/sessions"},
			{"GET", "/api/v1/self/two_factor/token"}, {"POST", "/api/v1/self/update"}, {"GET", "/api/v1/orgs/" + org + "/setting"}} {
			var body any
			if call[0] == "POST" {
				body = map[string]any{"name": "Evil", "email": "evil@example.com"}
			}
			e.want(e.do(p, call[0], call[1], body), 401, "pending: "+call[0]+" "+call[1])
		}
		// Logging out works.
		e.want(e.do(p, "POST", "/api/v1/logout", nil), 200, "pending logout")
		e.want(e.do(p, "GET", "/api/v1/self", nil), 401, "after logout")

		// Disabling without the password.
		r = e.do(c, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": false, "two_factor": e.code(secret, 0)})
		e.want(r, 400, "disable without password")
		if r.JSON(t)["current_password_required"] != true {
			t.Errorf("disable without password: %s", r.Body)
		}
		if s := e.self(c); s["two_factor_verified"] != true {
			t.Error("disabled without the password")
		}
	})
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	default:
		return strconv.Itoa(x.(int))
	}
}

// TestAPITwoFactorPasswordRecovery: a recovery link does not open an
// account with two-factor authentication without a code or a recovery code.
func TestAPITwoFactorPasswordRecovery(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email = "forgot@example.com"
		c := e.signUp(email, twoFactorTestPassword, "")
		_, codes := e.activate(c)

		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": email}), 200, "recover")
		token := e.recoverToken(email, 1)
		if page := pageText(t, e.st, e.st.Client(), "/recover/verify?token="+url.QueryEscape(token)); !strings.Contains(page, `name="two_factor"`) {
			t.Error("the recovery page of a 2FA account does not ask for a code")
		}
		nc := e.st.Client()
		r := e.do(nc, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "a brand new password"})
		e.want(r, 400, "recovery without a code")
		if r.JSON(t)["two_factor_required"] != true {
			t.Errorf("recovery without a code: %s", r.Body)
		}
		e.want(e.do(nc, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "a brand new password", "two_factor": "999999"}), 400, "recovery with a wrong code")
		r = e.do(nc, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "a brand new password", "two_factor": codes[0]})
		e.want(r, 200, "recovery with a recovery code")
		if r.JSON(t)["two_factor_passed"] != true {
			t.Errorf("recovery answer: %s", r.Body)
		}
		if s := e.self(nc); s["two_factor_passed"] != true || s["two_factor_required"] != false {
			t.Errorf("self after recovery: %v", s)
		}
		e.waitMail(email, subjectRecoveryCodeUsed, 1)

		// Down to 3 codes left: a warning, in the API and on My Account.
		for _, code := range codes[1:7] {
			lc, r := e.login(email, "a brand new password")
			e.want(r, 200, "login")
			e.want(e.passCode(lc, code), 200, "recovery code")
		}
		r = e.do(nc, "GET", "/api/v1/self/two_factor/recovery_codes", nil)
		if m := r.JSON(t); m["remaining"] != 3.0 || m["low"] != true {
			t.Errorf("3 codes left: %s", r.Body)
		}
		if page := pageText(t, e.st, nc, "/account"); !strings.Contains(page, "Make new ones before you run out") {
			t.Error("My Account does not warn that few recovery codes remain")
		}
	})
}

// TestAPITwoFactorOrgEnforcement: an organization's policy requires
// two-factor authentication with a grace period; once it is over, a member
// without it can do nothing but enrol.
func TestAPITwoFactorOrgEnforcement(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("boss@example.com", twoFactorTestPassword, twoFactorTestOrg)
		org := e.firstOrg(ann)
		for _, bad := range []any{-1, 91, "3", 2.5} {
			e.want(e.setPolicy(ann, org, map[string]any{"two_factor_grace_days": bad}), 400, "grace "+toJSON(bad))
		}
		r := e.setPolicy(ann, org, map[string]any{"enabled": true, "requires_two_factor_auth": true, "two_factor_grace_days": 3})
		e.want(r, 200, "require 2FA")
		if p := r.JSON(t)["password_policy"].(map[string]any); p["two_factor_grace_days"] != 3.0 || p["requires_two_factor_auth"] != true {
			t.Errorf("policy: %v", p)
		}

		// A member who joins a day later gets the whole grace period from then.
		e.st.Clock.Advance(24 * time.Hour)
		ann, _ = e.login("boss@example.com", twoFactorTestPassword) // the session of a day ago expired
		bob := e.signUp("bob@example.com", twoFactorTestPassword, "")
		addMember(t, e.st, "bob@example.com", org, e.st.Clock.Now())

		// During the grace period: everything works; the web pages show a banner.
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+org, nil), 200, "ann in grace")
		if banner := pageText(t, e.st, ann, "/account"); !strings.Contains(banner, twoFactorTestOrg+" requires two-factor authentication: 2 days left") {
			t.Errorf("ann's banner: %q", firstLine(banner, "requires"))
		}
		if banner := pageText(t, e.st, bob, "/account"); !strings.Contains(banner, "3 days left") {
			t.Errorf("bob's banner: %q", firstLine(banner, "requires"))
		}

		// Two days on, ann's grace period is over; bob still has a day.
		e.st.Clock.Advance(48*time.Hour + time.Second)
		ann, _ = e.login("boss@example.com", twoFactorTestPassword)
		bob, _ = e.login("bob@example.com", twoFactorTestPassword)
		r = e.do(ann, "GET", "/api/v1/orgs/"+org, nil)
		e.want(r, 403, "ann after grace")
		if r.JSON(t)["two_factor_enrolment_required"] != true || !strings.Contains(e.detail(r), enrolmentDetailForOthers) {
			t.Errorf("after the grace period: %s", r.Body)
		}
		e.want(e.do(bob, "GET", "/api/v1/orgs/"+org, nil), 200, "bob still in grace")
		if res := sendRaw(t, e.st, ann, "GET", "/orgs/"+org, nil, false, nil); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/account#authentication" {
			t.Errorf("GUI after the grace period: %d %s", res.Status, res.Header.Get("Location"))
		}
		e.want(e.do(ann, "GET", "/api/v1/self", nil), 200, "self while enrolment is due")
		// Enrolment is open, and afterwards everything again.
		e.activate(ann)
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+org, nil), 200, "ann after enrolling")

		// Grace 0: at once, for a fresh login as well.
		e.want(e.setPolicy(ann, org, map[string]any{"two_factor_grace_days": 0}), 200, "grace 0")
		c, _ := e.login("bob@example.com", twoFactorTestPassword)
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org+"/sites", nil), 403, "bob with grace 0")
		// The policy no longer requiring it lifts the restriction.
		e.want(e.setPolicy(ann, org, map[string]any{"requires_two_factor_auth": false}), 200, "not required")
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org+"/sites", nil), 200, "bob when not required")
	})
}

func toJSON(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "?"
}

// addMember gives the user an Observer privilege in the organization,
// joined at the given time (straight into the store: invitations are
// another feature).
func addMember(t *testing.T, st *testenv.Stack, email, orgID string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	u, err := st.DB.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	err = st.DB.Write(ctx, func(tx *store.Tx) error {
		return tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: orgID, Scope: portal.ScopeOrg, Role: portal.RoleRead}, at.UnixMilli())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pageText fetches a GUI page with the client's session.
func pageText(t *testing.T, st *testenv.Stack, c *http.Client, path string) string {
	t.Helper()
	r := sendRaw(t, st, c, "GET", path, nil, false, nil)
	if r.Status != 200 {
		t.Fatalf("GET %s: %d", path, r.Status)
	}
	return string(r.Body)
}

func firstLine(s, containing string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, containing) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
