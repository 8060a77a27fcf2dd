package authn

import (
	"bytes"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// rfc6238Secret is the SHA-1 seed of RFC 6238 appendix B, "12345678901234567890".
const rfc6238Secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

func TestTOTPRFC6238Vectors(t *testing.T) {
	// Appendix B gives 8 digits; the 6-digit code is its last six.
	for unix, want8 := range map[int64]string{59: "94287082", 1111111109: "07081804", 1234567890: "89005924", 2000000000: "69279037"} {
		got, err := TOTPCode(rfc6238Secret, time.Unix(unix, 0))
		if err != nil || got != want8[2:] {
			t.Errorf("TOTPCode(t=%d) = %q, %v; want %q", unix, got, err, want8[2:])
		}
	}
}

func TestMatchTOTPSkew(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil || len(secret) != 32 {
		t.Fatalf("NewTOTPSecret = %q, %v", secret, err)
	}
	now := time.Unix(1_700_000_010, 0) // 10 s into a step
	step := TOTPStep(now)
	for _, c := range []struct {
		at   time.Time
		ok   bool
		step int64
	}{
		{now, true, step},
		{now.Add(-30 * time.Second), true, step - 1}, // one step behind: accepted
		{now.Add(30 * time.Second), true, step + 1},  // one step ahead: accepted
		{now.Add(-60 * time.Second), false, 0},       // two steps: refused
		{now.Add(60 * time.Second), false, 0},
	} {
		code, err := TOTPCode(secret, c.at)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := MatchTOTP(secret, code, now)
		if err != nil || ok != c.ok || ok && got != c.step {
			t.Errorf("code of %v at %v: step %d ok %v err %v; want step %d ok %v", c.at.Sub(now), now, got, ok, err, c.step, c.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６", " 123456"} {
		if _, ok, err := MatchTOTP(secret, bad, now); ok || err != nil {
			t.Errorf("MatchTOTP(%q) = %v, %v", bad, ok, err)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes(RecoveryCodeCount)
	if err != nil || len(codes) != 10 {
		t.Fatalf("NewRecoveryCodes = %v, %v", codes, err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 29 || strings.Count(c, "-") != 4 {
			t.Errorf("code %q: want xxxxx-xxxxx-xxxxx-xxxxx-xxxxx", c)
		}
		n := NormalizeRecoveryCode(c)
		if n == "" || seen[n] {
			t.Errorf("code %q normalises to %q (seen %v)", c, n, seen[n])
		}
		seen[n] = true
		if got := NormalizeRecoveryCode(" " + strings.ToUpper(strings.ReplaceAll(c, "-", " ")) + " "); got != n {
			t.Errorf("typed in upper case with spaces: %q, want %q", got, n)
		}
	}
	if NormalizeRecoveryCode("abcd-efgh-jkmn-pqrs") != NormalizeRecoveryCode("ABCD EFGH JKMN PQRS") {
		t.Error("case and separators matter")
	}
	if NormalizeRecoveryCode("oooo-iiii-llll-0000") != "0000111111110000" {
		t.Error("o, i and l are not read as digits")
	}
	for _, bad := range []string{"", "123456", "abcd-efgh-jkmn-pqr", "abcd-efgh-jkmn-pqrst", "abcd-efgh-jkmn-pqr!", "abcd-efgh-jkmn-pqrü"} {
		if got := NormalizeRecoveryCode(bad); got != "" {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want refused", bad, got)
		}
	}
	if HashRecoveryCode("u1", "x") == HashRecoveryCode("u2", "x") {
		t.Error("the same code of two users hashes alike")
	}
}

// TestTOTPQRCode decodes the PNG as a phone would and finds the otpauth URI.
func TestTOTPQRCode(t *testing.T) {
	secret, _ := NewTOTPSecret()
	b, err := TOTPQRCode(secret, "ann.lee+2fa@example.com", 256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	want, _ := TOTPURI(secret, "ann.lee+2fa@example.com")
	if res.GetText() != want {
		t.Fatalf("QR carries %q, want %q", res.GetText(), want)
	}
	u, err := url.Parse(want)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("issuer") != "Portal" || u.Query().Get("secret") != secret ||
		strings.TrimPrefix(u.Path, "/") != "Portal:ann.lee+2fa@example.com" {
		t.Errorf("URI %q: want otpauth://totp/Portal:<email>?secret=…&issuer=Portal", want)
	}
}
