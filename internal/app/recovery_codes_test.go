package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestRecoveryCodeStrength: the recovery codes made when two-factor
// authentication is turned on carry at least 112 random bits (ASVS
// V6.5.2), read as five groups of five, are stored only as their hash with
// the user's id, and log in typed as shown, without dashes, with spaces, in
// upper case. A code of the older 16-character form still works until a
// new set is made, and then stops.
func TestRecoveryCodeStrength(t *testing.T) {
	if authn.RecoveryCodeBits < 112 {
		t.Fatalf("recovery codes carry %d bits, want at least 112", authn.RecoveryCodeBits)
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		svc := ts.svc
		const email, password = "ann@example.com", "Correct horse 12"
		u := ts.addUsers(t, password, email)[0]
		c := app.Client{IP: "198.51.100.7", UserAgent: "test"}
		res, err := svc.Login(ctx, email, password, c)
		if err != nil {
			t.Fatal(err)
		}
		a, err := svc.Authenticate(ctx, res.Token, c.IP)
		if err != nil {
			t.Fatal(err)
		}
		on := true
		if _, err := svc.UpdateSelf(ctx, a, app.SelfInput{EnableTwoFactor: &on}); err != nil {
			t.Fatal(err)
		}
		secret, _, err := svc.TwoFactorSecret(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		totp, err := authn.TOTPCode(secret, ts.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		codes, err := svc.VerifyTwoFactor(ctx, a, totp, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != authn.RecoveryCodeCount {
			t.Fatalf("%d codes, want %d", len(codes), authn.RecoveryCodeCount)
		}

		shown := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}(-[0-9a-hjkmnp-tv-z]{5}){4}$`)
		seen := map[string]bool{}
		for _, code := range codes {
			if !shown.MatchString(code) {
				t.Errorf("code %q: want five groups of five of Crockford's base32 (125 bits)", code)
			}
			n := authn.NormalizeRecoveryCode(code)
			if len(n)*5 < 112 || seen[n] {
				t.Errorf("code %q normalises to %q: %d bits (seen before: %v)", code, n, len(n)*5, seen[n])
			}
			seen[n] = true
			// Stored: SHA-256 with the user's id, never the code or its
			// plain hash.
			if used, err := ts.db.RecoveryCodeUsed(ctx, u.ID, authn.HashRecoveryCode(u.ID, n)); err != nil || used {
				t.Errorf("code %q: stored hash not found or used: %v, %v", code, used, err)
			}
			for _, other := range []string{n, code, plainSHA256(n), authn.HashRecoveryCode(uuid.NewString(), n)} {
				if _, err := ts.db.RecoveryCodeUsed(ctx, u.ID, other); portal.ErrorCode(err) != portal.ENOTFOUND {
					t.Errorf("code %q: %q is stored (%v)", code, other, err)
				}
			}
		}

		login := func(code string) error {
			t.Helper()
			_, err := svc.LoginWithCode(ctx, email, password, code, c)
			return err
		}
		for i, typed := range []string{
			codes[0],                              // as shown
			strings.ReplaceAll(codes[1], "-", ""), // without dashes
			strings.ToUpper(strings.ReplaceAll(codes[2], "-", " ")),        // upper case, spaces
			" " + strings.ToUpper(codes[3][:7]) + " " + codes[3][7:] + " ", // mixed
		} {
			if err := login(typed); err != nil {
				t.Errorf("recovery code %d typed %q: %v", i, typed, err)
			}
		}
		if err := login(codes[0]); err == nil || !strings.Contains(err.Error(), "already used") {
			t.Errorf("a used code again: %v, want refused as used", err)
		}

		// A set made before the longer codes: 16 characters, same hash.
		const old = "7k2m-q9xd-4hw3-ncr8"
		err = ts.db.Write(ctx, func(tx *store.Tx) error {
			return tx.ReplaceRecoveryCodes(ctx, u.ID, []string{uuid.NewString()},
				[]string{authn.HashRecoveryCode(u.ID, authn.NormalizeRecoveryCode(old))}, ts.clock.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := login("7K2M Q9XD 4HW3 NCR8"); err != nil {
			t.Errorf("an old 16-character code: %v, want accepted until a new set is made", err)
		}
		// Making a new set voids the old one.
		ts.clock.Advance(time.Minute)
		if totp, err = authn.TOTPCode(secret, ts.clock.Now()); err != nil {
			t.Fatal(err)
		}
		res, err = svc.LoginWithCode(ctx, email, password, totp, c)
		if err != nil {
			t.Fatal(err)
		}
		if a, err = svc.Authenticate(ctx, res.Token, c.IP); err != nil {
			t.Fatal(err)
		}
		fresh, err := svc.RegenerateRecoveryCodes(ctx, a, password)
		if err != nil {
			t.Fatal(err)
		}
		if len(fresh) != authn.RecoveryCodeCount || !shown.MatchString(fresh[0]) {
			t.Errorf("new set: %v", fresh)
		}
		if err := login(old); err == nil {
			t.Error("the old code still logs in after a new set was made")
		}
	})
}

func plainSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
