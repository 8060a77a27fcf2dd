package authn

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// b32 decodes TOTP secrets (RFC 4648 base32, no padding).
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Recovery codes stand in for a TOTP code when the authenticator app is
// lost. Each is 25 characters of Crockford's base32 alphabet (125 random
// bits, above the 112 that ASVS V6.5.2 asks of a secret stored with a fast
// hash), shown as five groups of five: "7k2mq-9xd4h-w3ncr-8pz0a-tv5e6".
// They are typed in any case, with or without the dashes or spaces.
//
// Only HashRecoveryCode of a code is stored: SHA-256 with the user's id,
// not a slow salted hash. A slow hash protects a secret that people choose
// (few bits: an attacker with the table tries likely ones); 125 random
// bits cannot be searched whatever the cost of each try (2^125 SHA-256
// computations per user), so slowing each try down would add nothing but
// an argon2 cost to every code check, which an attacker could then use to
// load the server. The user's id in the hash makes equal codes of two
// users differ, so a table of codes cannot be built once for everyone.
//
// Codes made before the 125-bit ones (16 characters, 80 bits, shown as
// "7k2m-q9xd-4hw3-ncr8") stay accepted until their owner makes a new set:
// their hashes are of the same form, and 80 random bits under SHA-256 per
// user are still far beyond guessing through the rate-limited login.
const (
	RecoveryCodeCount = 10
	recoveryCodeLen   = 25 // characters of a code made now
	recoveryGroup     = 5  // characters between dashes
	oldRecoveryLen    = 16 // characters of a code made before (accepted)
	crockford         = "0123456789abcdefghjkmnpqrstvwxyz"
)

// RecoveryCodeBits is the entropy of a recovery code made now.
const RecoveryCodeBits = recoveryCodeLen * 5

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
			if j > 0 && j%recoveryGroup == 0 {
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
	if sb.Len() != recoveryCodeLen && sb.Len() != oldRecoveryLen {
		return ""
	}
	return sb.String()
}

// HashRecoveryCode is the stored form of a normalised recovery code of a
// user: the user's id is mixed in so equal codes of two users differ.
func HashRecoveryCode(userID, normalized string) string {
	return HashToken("recovery:" + userID + ":" + normalized)
}
