package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/authn"
	"portal/internal/authn/authntest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Keys of the rotation tests: A the old key (hex), B the new one (base64),
// C one no instance is given.
var (
	rotKeyA = strings.Repeat("ab", authn.KeySize)
	rotKeyB = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("B", authn.KeySize)))
	rotKeyC = strings.Repeat("cd", authn.KeySize)
)

func mustKey(t *testing.T, s string) []byte {
	t.Helper()
	k, err := authn.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// serveUntilStopped runs `portal serve` with vars and returns its base
// URL and a function that stops it (a restart is a stop and a new serve).
func serveUntilStopped(t *testing.T, vars map[string]string) (string, func()) {
	t.Helper()
	vars = withVars(vars, map[string]string{})
	addr := freeAddr(t)
	vars["PORTAL_ADDR"] = addr
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr.String())
		}
	}
	t.Cleanup(stop)
	waitServing(t, done, &stdout, &stderr, answersOK(&http.Client{Timeout: 5 * time.Second}, base+"/healthz"))
	return base, stop
}

// withVars is vars with more set ("" removes one).
func withVars(vars, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		out[k] = v
	}
	for k, v := range more {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// totpClock hands out codes of one secret for TOTP steps never used
// before and within the one step of skew the server accepts around now,
// waiting only near the end of a code's time (at most five seconds): the
// step before now, then now, then the next.
type totpClock struct {
	secret string
	last   int64
}

func (c *totpClock) code(t *testing.T) string {
	t.Helper()
	step := max(c.last+1, authn.TOTPStep(time.Now())-1)
	// A step's code is accepted until the step after next begins. One made
	// in the last seconds of that time could reach Portal too late (the
	// request hashes the password first, slowly on a busy machine): wait
	// for the next step and take that one's earliest unused code instead.
	if until := time.Unix((step+2)*authn.TOTPPeriod, 0); time.Until(until) < 5*time.Second {
		time.Sleep(time.Until(until))
		step = max(c.last+1, authn.TOTPStep(time.Now())-1)
	}
	if step > authn.TOTPStep(time.Now())+1 {
		t.Fatal("no unused TOTP step left within the skew (the test uses at most three)")
	}
	c.last = step
	code, err := authn.TOTPCode(c.secret, time.Unix(step*authn.TOTPPeriod, 0))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// loginTOTP logs in with the password, then gives code as the second
// factor: the status and answer of the second step, and the session.
func loginTOTP(t *testing.T, base, email, pw, code string) (int, map[string]any, *apiAuth) {
	t.Helper()
	a, status, out := login(t, base, email, pw)
	if a == nil || out["two_factor_required"] != true {
		t.Fatalf("login of %s: %d %v; want a session owing its second factor", email, status, out)
	}
	status, out = call(t, "POST", base+"/api/v1/login/two_factor", map[string]any{"two_factor": code}, a)
	return status, out, a
}

// mustLoginTOTP logs in with a TOTP code and fails the test if either step
// is refused.
func mustLoginTOTP(t *testing.T, base, email, pw string, c *totpClock, when string) *apiAuth {
	t.Helper()
	status, out, a := loginTOTP(t, base, email, pw, c.code(t))
	if status != http.StatusOK {
		t.Fatalf("%s: login of %s with a TOTP code: %d %v", when, email, status, out)
	}
	if code, detail := selfStatus(t, base, a); code != http.StatusOK {
		t.Fatalf("%s: GET /api/v1/self after the second factor: %d %s", when, code, detail)
	}
	return a
}

// addTOTPUser stores a user with a second factor (verified, or set up
// and not verified yet) whose secret is sealed (by seal) directly in the
// database, and returns its codes.
func addTOTPUser(t *testing.T, o *operatorSetup, email string, verified bool, seal func(secret string) string) *totpClock {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	u := &portal.User{ID: uuid.NewString(), Email: email, FirstName: "Bo", LastName: "Sun", PasswordHash: o.user.PasswordHash, EmailVerified: true,
		PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
	secret, err := authn.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	sealed := seal(secret)
	err = o.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.StartTwoFactor(ctx, u.ID, sealed, now); err != nil || !verified {
			return err
		}
		return tx.ActivateTwoFactor(ctx, u.ID, sealed, 1, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	return &totpClock{secret: secret}
}

// TestSecretKeyRotation, on both databases: ann enrols her authenticator
// app (through the API) on a Portal with key A, and bob's secret was sealed
// under A before sealed values named their key. With key B and A as
// previous key, both log in with a TOTP code; `portal secret-key rotate`
// re-seals both under B (audit-logged on each account), says the previous
// key can go, and run again finds nothing to do; with B alone both still
// log in. With A alone (B's values unknown to it), a TOTP code gets a
// clear 409, not a 500, and a recovery code still works. A secret sealed
// under a key never configured makes rotate fail, naming its user, after
// it re-sealed the others.
func TestSecretKeyRotation(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			o := newOperatorSetup(t, d)
			ctx := context.Background()
			keyA, keyB := mustKey(t, rotKeyA), mustKey(t, rotKeyB)
			onlyA := withVars(o.vars, map[string]string{"PORTAL_SECRET_KEY": rotKeyA})
			rotating := withVars(o.vars, map[string]string{"PORTAL_SECRET_KEY": rotKeyB, "PORTAL_SECRET_KEY_PREVIOUS": rotKeyA})
			onlyB := withVars(o.vars, map[string]string{"PORTAL_SECRET_KEY": rotKeyB})

			// Key A: ann enrols through the API.
			base, stop := serveUntilStopped(t, onlyA)
			session := mustLogin(t, base, o.email, o.pw)
			if code, out := call(t, "PUT", base+"/api/v1/self", map[string]any{"enable_two_factor": true, "current_password": o.pw}, session); code != http.StatusOK {
				t.Fatalf("start enrolment: %d %v", code, out)
			}
			code, out := call(t, "GET", base+"/api/v1/self/two_factor/token", nil, session)
			secret, _ := out["two_factor_secret"].(string)
			if code != http.StatusOK || secret == "" {
				t.Fatalf("enrolment secret: %d %v", code, out)
			}
			ann := &totpClock{secret: secret}
			code, out = call(t, "POST", base+"/api/v1/self/two_factor/verify", map[string]any{"two_factor": ann.code(t), "current_password": o.pw}, session)
			recovery, _ := out["recovery_codes"].([]any)
			if code != http.StatusOK || len(recovery) == 0 {
				t.Fatalf("verify enrolment: %d %v", code, out)
			}
			stop()
			tf, err := o.db.GetTwoFactor(ctx, o.user.ID)
			if err != nil || !strings.HasPrefix(tf.Secret, "v2."+authn.KeyID(keyA)+".") {
				t.Fatalf("ann's secret after enrolling under A: %+v, %v", tf, err)
			}
			bob := addTOTPUser(t, o, "bob@example.com", true, func(s string) string { return authntest.SealUnversioned(t, keyA, []byte(s)) })

			// Key B, A previous: both log in with a code.
			base, stop = serveUntilStopped(t, rotating)
			mustLoginTOTP(t, base, o.email, o.pw, ann, "key B, previous A")
			mustLoginTOTP(t, base, "bob@example.com", o.pw, bob, "key B, previous A (secret sealed the old way)")

			// Rotate while the instance serves.
			err, stdout, stderr := runCmd(t, []string{"secret-key", "rotate"}, rotating)
			if err != nil {
				t.Fatalf("portal secret-key rotate: %v\n%s", err, stderr)
			}
			for _, want := range []string{
				"re-sealed 2 values under the current secret key (key id " + authn.KeyID(keyB) + "): 2 two-factor secrets, 0 Google sign-ins under way",
				"remove PORTAL_SECRET_KEY_PREVIOUS from the configuration of every instance",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("rotate printed %q, want %q", stdout, want)
				}
			}
			if left, err := o.db.SealedNotUnder(ctx, store.SealedTwoFactor, "v2."+authn.KeyID(keyB)+".", "", 10); err != nil || len(left) != 0 {
				t.Errorf("after rotate, secrets not under B: %+v, %v", left, err)
			}
			if tf, err := o.db.GetTwoFactor(ctx, o.user.ID); err != nil || !tf.Verified {
				t.Errorf("ann's second factor after rotate: %+v, %v; want still verified", tf, err)
			}
			err, stdout, _ = runCmd(t, []string{"secret-key", "rotate"}, rotating)
			if err != nil || !strings.Contains(stdout, "nothing to re-seal") {
				t.Errorf("rotate again: %v %q; want nothing to re-seal", err, stdout)
			}
			stop()

			// Key B alone: both still log in with a code.
			base, stop = serveUntilStopped(t, onlyB)
			annB := mustLoginTOTP(t, base, o.email, o.pw, ann, "key B alone, after rotate")
			mustLoginTOTP(t, base, "bob@example.com", o.pw, bob, "key B alone, after rotate (bob)")
			if logs := auditMessages(t, base, annB); !strings.Contains(logs, "An operator re-sealed the two-factor secret under the current secret key") {
				t.Errorf("ann's audit log lacks the re-sealing:\n%s", logs)
			}
			stop()

			// Key A alone: B's values cannot be opened; a clear refusal.
			// erin had started setting up her second factor under B.
			addTOTPUser(t, o, "erin@example.com", false, func(s string) string {
				box, err := authn.NewSecretBox(keyB)
				if err != nil {
					t.Fatal(err)
				}
				sealed, _ := box.Seal([]byte(s))
				return sealed
			})
			base, stop = serveUntilStopped(t, onlyA)
			erin := mustLogin(t, base, "erin@example.com", o.pw)
			code, out = call(t, "GET", base+"/api/v1/self/two_factor/token", nil, erin)
			if detail, _ := out["detail"].(string); code != http.StatusConflict || !strings.Contains(detail, "start setting up two-factor authentication again") {
				t.Errorf("key A alone, an enrolment started under B: %d %v; want 409 saying to start again", code, out)
			}
			if code, out := call(t, "PUT", base+"/api/v1/self", map[string]any{"enable_two_factor": true, "current_password": o.pw}, erin); code != http.StatusOK {
				t.Errorf("starting again: %d %v", code, out)
			}
			if code, out := call(t, "GET", base+"/api/v1/self/two_factor/token", nil, erin); code != http.StatusOK || out["two_factor_secret"] == "" {
				t.Errorf("the new enrolment's secret: %d %v", code, out)
			}
			status, out, pending := loginTOTP(t, base, o.email, o.pw, "123456")
			detail, _ := out["detail"].(string)
			if status != http.StatusConflict || out["two_factor_unreadable"] != true || !strings.Contains(detail, "secret key changed") ||
				!strings.Contains(detail, "recovery codes") {
				t.Errorf("key A alone, TOTP code: %d %v; want 409 saying the key changed and to use a recovery code", status, out)
			}
			code, out = call(t, "POST", base+"/api/v1/login/two_factor", map[string]any{"two_factor": recovery[0]}, pending)
			if code != http.StatusOK {
				t.Errorf("key A alone, a recovery code: %d %v; want 200", code, out)
			}
			stop()

			// A secret sealed under a key no instance has: rotate re-seals
			// the rest (dave's, sealed the old way under A, and erin's new
			// one, sealed under A alone) and fails, naming its user.
			addTOTPUser(t, o, "carol@example.com", true, func(s string) string {
				box, err := authn.NewSecretBox(mustKey(t, rotKeyC))
				if err != nil {
					t.Fatal(err)
				}
				sealed, _ := box.Seal([]byte(s))
				return sealed
			})
			addTOTPUser(t, o, "dave@example.com", true, func(s string) string { return authntest.SealUnversioned(t, keyA, []byte(s)) })
			err, stdout, _ = runCmd(t, []string{"secret-key", "rotate"}, rotating)
			if err == nil || !strings.Contains(err.Error(), "1 two-factor secret could not be opened with PORTAL_SECRET_KEY or PORTAL_SECRET_KEY_PREVIOUS (of carol@example.com)") ||
				!strings.Contains(stdout, "re-sealed 2 values") || strings.Contains(stdout, "remove PORTAL_SECRET_KEY_PREVIOUS") {
				t.Errorf("rotate with a secret under an unknown key: %v, printed %q", err, stdout)
			}
		})
	}
}

// TestSecretKeyConfigErrors: a previous key that is malformed, or is the
// current key (given, or generated into the data directory), stops
// Portal at start with an error naming PORTAL_SECRET_KEY_PREVIOUS and not
// showing the key; `portal secret-key` wants rotate, and rotate never
// makes a key.
func TestSecretKeyConfigErrors(t *testing.T) {
	dir := t.TempDir()
	base := map[string]string{"PORTAL_DATA_DIR": dir, "PORTAL_ADDR": freeAddr(t), "PORTAL_SHUTDOWN_DRAIN": "0"}
	if err, _, stderr := runCmd(t, []string{"migrate"}, base); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	// No key yet: rotate refuses rather than making one.
	if err, _, _ := runCmd(t, []string{"secret-key", "rotate"}, base); err == nil || !strings.Contains(err.Error(), "no secret key: PORTAL_SECRET_KEY is unset") {
		t.Errorf("rotate without a key: %v", err)
	}
	// serve generates one; naming it as previous is refused.
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(base), &stdout, &stderr) }()
	waitServing(t, done, &stdout, &stderr, answersOK(&http.Client{Timeout: 5 * time.Second}, "http://"+base["PORTAL_ADDR"]+"/healthz"))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	generated := strings.TrimSpace(string(raw))
	for name, tc := range map[string]struct {
		args []string
		vars map[string]string
		want string
	}{
		"malformed":        {[]string{"serve"}, map[string]string{"PORTAL_SECRET_KEY_PREVIOUS": "old-key-that-must-not-leak!"}, "PORTAL_SECRET_KEY_PREVIOUS: key 1: key (27 characters) is neither valid hex nor base64"},
		"the current key":  {[]string{"serve"}, map[string]string{"PORTAL_SECRET_KEY": rotKeyA, "PORTAL_SECRET_KEY_PREVIOUS": rotKeyB + "," + rotKeyA}, "PORTAL_SECRET_KEY_PREVIOUS: key 2 is PORTAL_SECRET_KEY itself"},
		"the generated":    {[]string{"serve"}, map[string]string{"PORTAL_SECRET_KEY_PREVIOUS": generated}, "PORTAL_SECRET_KEY_PREVIOUS: previous key 1 is the current key"},
		"rotate, the same": {[]string{"secret-key", "rotate"}, map[string]string{"PORTAL_SECRET_KEY_PREVIOUS": generated}, "PORTAL_SECRET_KEY_PREVIOUS: previous key 1 is the current key"},
		"no action":        {[]string{"secret-key"}, nil, "usage: portal secret-key rotate [flags]"},
		"unknown action":   {[]string{"secret-key", "spin"}, nil, `unknown secret-key command "spin" (use rotate)`},
	} {
		err, out, errOut := runCmd(t, tc.args, withVars(base, tc.vars))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
			continue
		}
		for _, secret := range []string{"old-key-that-must-not-leak", generated, rotKeyA, rotKeyB} {
			if strings.Contains(err.Error()+out+errOut, secret) {
				t.Errorf("%s: the key is shown: %v %s %s", name, err, out, errOut)
			}
		}
	}
	// Without previous keys, rotate moves nothing and says so.
	if err, out, _ := runCmd(t, []string{"secret-key", "rotate"}, base); err != nil || !strings.Contains(out, "nothing to re-seal") {
		t.Errorf("rotate, nothing stored: %v %q", err, out)
	}
}
