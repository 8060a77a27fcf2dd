package authn

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of a SecretBox key (AES-256).
const KeySize = 32

// ErrDecrypt is returned by SecretBox.Open when a sealed value is not valid
// base64url, is too short, was tampered with or was sealed under another key.
var ErrDecrypt = errors.New("authn: cannot decrypt secret")

// SecretBox encrypts small secrets (such as TOTP seeds) for storage with
// AES-256-GCM. It is safe for concurrent use. Under one key, Seal must not be
// called more than 2^32 times (random 96-bit nonces), far beyond our needs.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox returns a SecretBox using key, which must be exactly 32 bytes
// (see ParseKey).
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("authn: secret box key is %d bytes, need %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("authn: secret box: %w", err)
	}
	// NewGCMWithRandomNonce draws a fresh random 12-byte nonce for every
	// Seal and prepends it: its output is nonce || ciphertext || tag.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("authn: secret box: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plaintext and returns base64url(nonce || ciphertext || tag)
// without padding. Sealing the same plaintext twice gives different results.
func (b *SecretBox) Seal(plaintext []byte) (string, error) {
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nil, nil, plaintext, nil)), nil
}

// Open decrypts a value produced by Seal. Any failure (bad encoding,
// truncation, tampering, wrong key) returns an error wrapping ErrDecrypt.
func (b *SecretBox) Open(s string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrDecrypt)
	}
	if len(raw) < b.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrDecrypt)
	}
	pt, err := b.aead.Open(nil, nil, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (wrong key or tampered data)", ErrDecrypt)
	}
	return pt, nil
}

// ParseKey decodes a 32-byte key given as 64 hex digits or as base64 (standard
// or URL alphabet, with or without padding). Surrounding whitespace is
// ignored. Error messages never include the key material.
func ParseKey(s string) ([]byte, error) {
	const hint = "expected 32 bytes as 64 hex digits or base64 (e.g. from `openssl rand -base64 32`)"
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("authn: key is empty; %s", hint)
	}
	// Hex first: hex digits are also valid base64 characters, but 64 of them
	// would decode as base64 to 48 bytes, so there is no ambiguity.
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	if isHex(s) && len(s)%2 == 0 && len(s) != 2*KeySize && len(s) >= KeySize {
		// Most likely a hex key of the wrong length; say so rather than
		// reporting what it would decode to as base64.
		return nil, fmt.Errorf("authn: key looks like hex but has %d digits, need %d; %s", len(s), 2*KeySize, hint)
	}
	var decoded []byte
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) == KeySize {
				return k, nil
			}
			decoded = k
		}
	}
	if decoded != nil {
		return nil, fmt.Errorf("authn: key decodes to %d bytes, need %d; %s", len(decoded), KeySize, hint)
	}
	return nil, fmt.Errorf("authn: key (%d characters) is neither valid hex nor base64; %s", len(s), hint)
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
