package authn

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// b32 decodes TOTP secrets (RFC 4648 base32, no padding).
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Recovery codes stand in for a TOTP code when the authenticator app is
// lost. Each is 16 characters of Crockford's base32 alphabet (80 random
// bits), shown as four groups: "7k2m-q9xd-4hw3-ncr8". Only
// HashRecoveryCode of a code is stored.
const (
	RecoveryCodeCount = 10
	recoveryCodeLen   = 16
	crockford         = "0123456789abcdefghjkmnpqrstvwxyz"
)

// NewRecoveryCodes returns n fresh codes in their display form.
func NewRecoveryCodes(n int) ([]string, error) {
	codes := make([]string, n)
	for i := range codes {
		b := make([]byte, recoveryCodeLen)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		var sb strings.Builder
		for j, c := range b {
			if j > 0 && j%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(crockford[c&31]) // 256 is a multiple of 32: no bias
		}
		codes[i] = sb.String()
	}
	return codes, nil
}

// NormalizeRecoveryCode returns the code as stored (lower case, without
// spaces or dashes, with the letters Crockford's alphabet reads as digits
// mapped: i and l to 1, o to 0), or "" when s cannot be a recovery code.
func NormalizeRecoveryCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'i' || r == 'l':
			r = '1'
		case r == 'o':
			r = '0'
		case r > 127 || !strings.ContainsRune(crockford, r):
			return ""
		}
		sb.WriteRune(r)
	}
	if sb.Len() != recoveryCodeLen {
		return ""
	}
	return sb.String()
}

// HashRecoveryCode is the stored form of a normalised recovery code of a
// user: the user's id is mixed in so equal codes of two users differ.
func HashRecoveryCode(userID, normalized string) string {
	return HashToken("recovery:" + userID + ":" + normalized)
}
