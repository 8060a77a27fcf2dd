package authn

import (
	"bytes"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238 as authenticator apps expect them): SHA-1,
// 6 digits, 30-second steps, one step of clock skew either way.
const (
	TOTPPeriod  = 30
	TOTPDigits  = 6
	TOTPSkew    = 1
	TOTPIssuer  = "Portal"
	totpSecretN = 20 // bytes of secret: 160 bits, as RFC 4226 recommends
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPSecret returns a fresh random secret, base32 without padding, as
// authenticator apps take it.
func NewTOTPSecret() (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: "x", SecretSize: totpSecretN,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Period: TOTPPeriod, Rand: rand.Reader})
	if err != nil {
		return "", err
	}
	return key.Secret(), nil
}

// TOTPURI returns the otpauth:// URI of a secret for account (the user's
// e-mail address), with issuer "Portal": what the QR code carries.
func TOTPURI(secret, account string) (string, error) {
	key, err := totpKey(secret, account)
	if err != nil {
		return "", err
	}
	return key.URL(), nil
}

func totpKey(secret, account string) (*otp.Key, error) {
	raw, err := decodeTOTPSecret(secret)
	if err != nil {
		return nil, err
	}
	return totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: account, Secret: raw,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Period: TOTPPeriod})
}

// TOTPQRCode returns the QR code of the secret's otpauth:// URI as a PNG of
// about size pixels, with the white margin (quiet zone) scanners need.
func TOTPQRCode(secret, account string, size int) ([]byte, error) {
	key, err := totpKey(secret, account)
	if err != nil {
		return nil, err
	}
	const margin = 24
	code, err := key.Image(size-2*margin, size-2*margin)
	if err != nil {
		return nil, err
	}
	b := code.Bounds()
	img := image.NewGray(image.Rect(0, 0, b.Dx()+2*margin, b.Dy()+2*margin))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(margin, margin, margin+b.Dx(), margin+b.Dy()), code, b.Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TOTPStep is the number of the 30-second step that t falls in.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode returns the code of secret for the step that t falls in (what an
// authenticator app shows at t). Tests use it as the app.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}

// MatchTOTP looks for code among the steps around now (one step of skew
// either way) and returns the step it belongs to. The caller must then
// record that step so the code is never accepted again.
func MatchTOTP(secret, code string, now time.Time) (step int64, ok bool, err error) {
	if !IsTOTPCode(code) {
		return 0, false, nil
	}
	cur := TOTPStep(now)
	for _, s := range []int64{cur - TOTPSkew, cur, cur + TOTPSkew} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*TOTPPeriod, 0), totpOpts)
		if err != nil {
			return 0, false, err
		}
		if EqualConstantTime(want, code) {
			return s, true, nil
		}
	}
	return 0, false, nil
}

// IsTOTPCode reports whether s is exactly six ASCII digits.
func IsTOTPCode(s string) bool {
	if len(s) != TOTPDigits {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func decodeTOTPSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(secret, "="))
	raw, err := b32.DecodeString(s)
	if err != nil || len(raw) == 0 {
		return nil, errors.New("authn: malformed TOTP secret")
	}
	return raw, nil
}
