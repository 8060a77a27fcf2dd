package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// tokenBytes is 256 bits of entropy.
const tokenBytes = 32

// NewToken returns 32 random bytes as unpadded base64url (43 characters),
// suitable for session cookies, e-mail links and API keys. Store only
// HashToken(token), never the token itself. The error is always nil
// (crypto/rand cannot fail since Go 1.24); it is kept so callers need not
// change if the source of randomness ever can.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the lowercase hex SHA-256 of token: the form in which
// tokens are stored and looked up. A fast hash is enough because tokens have
// 256 bits of entropy and cannot be guessed, unlike passwords.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// EqualConstantTime reports whether a == b in time that depends on neither
// their contents nor their lengths: both are hashed to 32 bytes first,
// because subtle.ConstantTimeCompare returns early on a length mismatch.
func EqualConstantTime(a, b string) bool {
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
