// Package authntest gives tests values in the formats authn wrote before
// its present ones, so that tests of several packages can check that
// those values still open.
package authntest

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"testing"
)

// SealUnversioned seals plaintext under key as authn.SecretBox did before
// key rotation: base64url(nonce || ciphertext || tag), AES-256-GCM with a
// random nonce and no additional data, and no key identifier.
func SealUnversioned(t testing.TB, key, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nil, plaintext, nil))
}
