package authn

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
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

// ErrUnknownKey is returned (wrapped, and itself wrapping ErrDecrypt) by
// SecretBox.Open for a value whose key identifier names none of the box's
// keys: it was sealed under a key that is no longer configured.
var ErrUnknownKey = fmt.Errorf("%w: sealed under a key that is neither the current key nor a previous one", ErrDecrypt)

// Sealed values. Seal writes
//
//	v2.<key id>.<base64url(nonce || ciphertext || tag)>
//
// where the key id is the first 8 hex digits of HMAC-SHA-256(key,
// keyIDLabel): it tells Open which key sealed the value without revealing
// anything of the key (HMAC is a pseudorandom function; 32 bits of its
// output say only which of a handful of keys it is). "v2.<key id>" is the
// AES-GCM additional data, so neither part can be changed or stripped
// without Open failing. Values sealed before key rotation existed are
// base64url(nonce || ciphertext || tag) alone, with no additional data (no
// '.' can occur in them): Open tries every key on them, the current first.
const (
	sealedVersion = "v2."
	keyIDLabel    = "portal secret box key id"
	keyIDLen      = 8 // hex digits
)

// KeyID returns the identifier of key that sealed values carry. It is safe
// to print and log.
func KeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(keyIDLabel))
	return hex.EncodeToString(m.Sum(nil))[:keyIDLen]
}

type boxKey struct {
	id   string
	aead cipher.AEAD
}

// SecretBox encrypts small secrets (such as TOTP seeds) for storage with
// AES-256-GCM. It seals under its current key and opens values sealed
// under the current key or any previous one, so that the key can be
// rotated: configure the new key as current and the old one as previous,
// re-seal what is stored (Reseal), then drop the previous key. It is safe
// for concurrent use. Under one key, Seal must not be called more than
// 2^32 times (random 96-bit nonces), far beyond our needs.
type SecretBox struct {
	keys []boxKey // keys[0] is the current key
}

// NewSecretBox returns a SecretBox sealing under key and opening values
// sealed under key or any of previous. Every key must be exactly 32 bytes
// (see ParseKey), and no two may be the same.
func NewSecretBox(key []byte, previous ...[]byte) (*SecretBox, error) {
	all := append([][]byte{key}, previous...)
	b := &SecretBox{}
	for i, k := range all {
		what := "secret box key"
		if i > 0 {
			what = fmt.Sprintf("previous key %d", i)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("authn: %s is %d bytes, need %d", what, len(k), KeySize)
		}
		for j := range i {
			if bytes.Equal(k, all[j]) {
				if j == 0 {
					return nil, fmt.Errorf("authn: %s is the current key: a previous key must differ from it", what)
				}
				return nil, fmt.Errorf("authn: %s is the same as previous key %d", what, j)
			}
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("authn: secret box: %w", err)
		}
		// NewGCMWithRandomNonce draws a fresh random 12-byte nonce for every
		// Seal and prepends it: its output is nonce || ciphertext || tag.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("authn: secret box: %w", err)
		}
		id := KeyID(k)
		for _, o := range b.keys {
			if o.id == id { // 1 in 4 billion: make another key
				return nil, fmt.Errorf("authn: %s has the same key id as another key (%s): make a new key", what, id)
			}
		}
		b.keys = append(b.keys, boxKey{id: id, aead: aead})
	}
	return b, nil
}

// KeyID is the identifier of the current key (see the package function
// KeyID).
func (b *SecretBox) KeyID() string { return b.keys[0].id }

// CurrentPrefix is how every value sealed under the current key begins:
// a stored value without it was sealed under a previous key, or before
// sealed values said which key sealed them.
func (b *SecretBox) CurrentPrefix() string { return sealedVersion + b.keys[0].id + "." }

// Seal encrypts plaintext under the current key and returns
// "v2.<key id>.<base64url(nonce || ciphertext || tag)>", without padding.
// Sealing the same plaintext twice gives different results.
func (b *SecretBox) Seal(plaintext []byte) (string, error) {
	k := b.keys[0]
	ad := sealedVersion + k.id
	return ad + "." + base64.RawURLEncoding.EncodeToString(k.aead.Seal(nil, nil, plaintext, []byte(ad))), nil
}

// Open decrypts a value produced by Seal under the current key or a
// previous one, or by Seal before values carried their key id. Any failure
// (bad encoding, truncation, tampering, wrong key) returns an error
// wrapping ErrDecrypt; a value whose key id is none of the box's keys, one
// wrapping ErrUnknownKey.
func (b *SecretBox) Open(s string) ([]byte, error) {
	if !strings.HasPrefix(s, sealedVersion) {
		return b.openUnversioned(s)
	}
	id, payload, ok := strings.Cut(s[len(sealedVersion):], ".")
	if !ok || len(id) != keyIDLen {
		return nil, fmt.Errorf("%w: malformed key id", ErrDecrypt)
	}
	for _, k := range b.keys {
		if k.id != id {
			continue
		}
		raw, err := decodeSealed(payload, k.aead)
		if err != nil {
			return nil, err
		}
		pt, err := k.aead.Open(nil, nil, raw, []byte(sealedVersion+id))
		if err != nil {
			return nil, fmt.Errorf("%w: authentication failed (tampered data)", ErrDecrypt)
		}
		return pt, nil
	}
	return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, id)
}

// openUnversioned opens a value sealed before sealed values carried their
// key id, trying every key, the current one first.
func (b *SecretBox) openUnversioned(s string) ([]byte, error) {
	raw, err := decodeSealed(s, b.keys[0].aead)
	if err != nil {
		return nil, err
	}
	for _, k := range b.keys {
		if pt, err := k.aead.Open(nil, nil, raw, nil); err == nil {
			return pt, nil
		}
	}
	return nil, fmt.Errorf("%w: authentication failed (wrong key or tampered data)", ErrDecrypt)
}

func decodeSealed(s string, aead cipher.AEAD) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrDecrypt)
	}
	if len(raw) < aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrDecrypt)
	}
	return raw, nil
}

// Reseal opens s (sealed under any of the box's keys) and seals its
// plaintext again under the current key. It reports false, and returns s
// unchanged, when s was sealed under the current key already.
func (b *SecretBox) Reseal(s string) (_ string, changed bool, err error) {
	if strings.HasPrefix(s, b.CurrentPrefix()) {
		if _, err := b.Open(s); err != nil {
			return "", false, err
		}
		return s, false, nil
	}
	pt, err := b.Open(s)
	if err != nil {
		return "", false, err
	}
	out, err := b.Seal(pt)
	return out, err == nil, err
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
