package authn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"portal/internal/authn/authntest"
)

// sealedBeforeRotation is "JBSWY3DPEHPK3PXP" sealed by SecretBox.Seal as it
// was before sealed values carried their key id, under the key of 32 bytes
// 0x0f (taken from that code, not made by this one).
const sealedBeforeRotation = "q2ygY-eRp36zvODYbA32YCnNJTx60N2_Rrp-eylwh72jA1WUvSXQEGfomF4"

// TestSecretBoxOpensValuesSealedBeforeRotation: values sealed before this
// format (a fixed one from the old code, and one sealed the old way now)
// open under their key, whether it is the current key or a previous one,
// and Reseal moves them to the current key's format.
func TestSecretBoxOpensValuesSealedBeforeRotation(t *testing.T) {
	old := testKey(0x0f)
	fresh := authntest.SealUnversioned(t, old, []byte("another secret"))
	asCurrent, err := NewSecretBox(old)
	if err != nil {
		t.Fatal(err)
	}
	asPrevious, err := NewSecretBox(testKey(7), testKey(8), old)
	if err != nil {
		t.Fatal(err)
	}
	for name, box := range map[string]*SecretBox{"current": asCurrent, "previous": asPrevious} {
		for sealed, want := range map[string]string{sealedBeforeRotation: "JBSWY3DPEHPK3PXP", fresh: "another secret"} {
			got, err := box.Open(sealed)
			if err != nil || string(got) != want {
				t.Fatalf("old key as %s: Open(%q) = %q, %v; want %q", name, sealed, got, err, want)
			}
			again, changed, err := box.Reseal(sealed)
			if err != nil || !changed || !strings.HasPrefix(again, box.CurrentPrefix()) {
				t.Fatalf("old key as %s: Reseal = %q, %v, %v; want a value under the current key", name, again, changed, err)
			}
			if got, err := box.Open(again); err != nil || string(got) != want {
				t.Fatalf("old key as %s: Open(Reseal) = %q, %v", name, got, err)
			}
		}
	}
	// Without the old key, neither opens.
	other, _ := NewSecretBox(testKey(7), testKey(8))
	for _, sealed := range []string{sealedBeforeRotation, fresh} {
		if _, err := other.Open(sealed); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("old value without its key: %v; want ErrDecrypt", err)
		}
	}
}

// TestSecretBoxRotation: a box with key B and previous key A opens what A
// sealed, seals under B only, and Reseal moves A's values to B (and leaves
// B's alone); a box with A alone cannot open B's values.
func TestSecretBoxRotation(t *testing.T) {
	a, _ := NewSecretBox(testKey(1))
	b, err := NewSecretBox(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() == b.KeyID() || b.KeyID() != KeyID(testKey(2)) {
		t.Fatalf("key ids: A %s, B %s", a.KeyID(), b.KeyID())
	}
	underA, _ := a.Seal([]byte("seed"))
	if got, err := b.Open(underA); err != nil || string(got) != "seed" {
		t.Fatalf("B with previous A opens A's value: %q, %v", got, err)
	}
	underB, _ := b.Seal([]byte("seed"))
	if !strings.HasPrefix(underB, "v2."+KeyID(testKey(2))+".") {
		t.Fatalf("B seals %q; want it under B's key id", underB)
	}
	if _, err := a.Open(underB); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("A alone opens B's value: %v; want ErrUnknownKey", err)
	}
	moved, changed, err := b.Reseal(underA)
	if err != nil || !changed || !strings.HasPrefix(moved, b.CurrentPrefix()) {
		t.Fatalf("Reseal of A's value: %q, %v, %v", moved, changed, err)
	}
	onlyB, _ := NewSecretBox(testKey(2))
	if got, err := onlyB.Open(moved); err != nil || string(got) != "seed" {
		t.Fatalf("B alone opens the re-sealed value: %q, %v", got, err)
	}
	same, changed, err := b.Reseal(underB)
	if err != nil || changed || same != underB {
		t.Fatalf("Reseal of B's own value: %q, %v, %v; want it unchanged", same, changed, err)
	}
	// Changing the key id to another configured key's does not open it.
	forged := "v2." + a.KeyID() + strings.TrimPrefix(underB, "v2."+b.KeyID())
	if _, err := b.Open(forged); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("value with its key id swapped: %v; want ErrDecrypt", err)
	}
}

// TestSecretBoxUnknownKey: a value sealed under a key the box does not
// have is refused with ErrUnknownKey (itself an ErrDecrypt), in either
// format, and Reseal refuses it too.
func TestSecretBoxUnknownKey(t *testing.T) {
	c, _ := NewSecretBox(testKey(3))
	box, _ := NewSecretBox(testKey(2), testKey(1))
	sealed, _ := c.Seal([]byte("seed"))
	_, err := box.Open(sealed)
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), c.KeyID()) {
		t.Fatalf("unknown key: %v; want ErrUnknownKey naming key id %s", err, c.KeyID())
	}
	if _, _, err := box.Reseal(sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Reseal under an unknown key: %v", err)
	}
	if _, err := box.Open(authntest.SealUnversioned(t, testKey(3), []byte("seed"))); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("old format, unknown key: %v; want ErrDecrypt", err)
	}
}

// TestNewSecretBoxPreviousKeys: a previous key equal to the current key or
// to another previous key, or of the wrong length, is refused.
func TestNewSecretBoxPreviousKeys(t *testing.T) {
	for name, prev := range map[string][][]byte{
		"the current key":    {testKey(1)},
		"a repeated key":     {testKey(2), testKey(3), testKey(2)},
		"a key of 16 bytes":  {make([]byte, 16)},
		"after a good key 0": {testKey(2), nil},
	} {
		if _, err := NewSecretBox(testKey(1), prev...); err == nil {
			t.Errorf("NewSecretBox accepted %s as a previous key", name)
		}
	}
	if _, err := NewSecretBox(testKey(1), testKey(2), testKey(3)); err != nil {
		t.Fatal(err)
	}
}

// TestKeyID: 8 hex digits, the same for the same key, different for
// different keys, and not a piece of the key.
func TestKeyID(t *testing.T) {
	k := testKey(0xab)
	id := KeyID(k)
	if len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" || KeyID(bytes.Clone(k)) != id || KeyID(testKey(0xac)) == id {
		t.Fatalf("KeyID = %q", id)
	}
	if strings.Contains(hex.EncodeToString(k), id) {
		t.Fatalf("KeyID %q is part of the key", id)
	}
}
