package authn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheap returns a Hasher with tiny parameters so tests run fast.
func cheap() *Hasher { return NewHasher(64, 1, 1, 2) }

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := cheap()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	ok, rehash, err := h.Verify(ctx, enc, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, enc, "correct horse battery stapler")
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, enc, "")
	if err != nil || ok {
		t.Fatalf("Verify(empty) = %v, %v; want false, nil", ok, err)
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	ctx := context.Background()
	h := cheap()
	a, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two hashes of the same password are identical; salt not random")
	}
}

// TestDefaultHasher checks the OWASP parameters end to end and that the PHC
// string decodes to exactly what argon2.IDKey computes, i.e. that the
// encoding is interoperable with other argon2id implementations.
func TestDefaultHasher(t *testing.T) {
	ctx := context.Background()
	h := DefaultHasher()
	if h.Memory != 19456 || h.Time != 2 || h.Threads != 1 {
		t.Fatalf("DefaultHasher params = m=%d t=%d p=%d", h.Memory, h.Time, h.Threads)
	}
	if cap(h.sem) < 2 {
		t.Fatalf("DefaultHasher concurrency cap = %d", cap(h.sem))
	}
	const pw = "Tr0ub4dor&3"
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" {
		t.Fatalf("unexpected PHC string %q", enc)
	}
	if strings.ContainsAny(parts[4]+parts[5], "=-_") {
		t.Fatalf("salt/hash not raw std base64: %q", enc)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) != 16 {
		t.Fatalf("salt %q: len %d, err %v", parts[4], len(salt), err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) != 32 {
		t.Fatalf("hash %q: len %d, err %v", parts[5], len(key), err)
	}
	if want := argon2.IDKey([]byte(pw), salt, 2, 19456, 1, 32); !bytes.Equal(key, want) {
		t.Fatal("encoded hash differs from argon2.IDKey output")
	}
	ok, rehash, err := h.Verify(ctx, enc, pw)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

// TestVerifyForeignHash verifies a PHC string built by hand (as another
// implementation would) with parameters, salt and key length unlike ours.
func TestVerifyForeignHash(t *testing.T) {
	salt := []byte("somesaltsomesalt0123")                      // 20 bytes
	key := argon2.IDKey([]byte("password"), salt, 3, 32, 2, 24) // m=32 KiB, t=3, p=2, 24-byte key
	enc := "$argon2id$v=19$m=32,t=3,p=2$" + base64.RawStdEncoding.EncodeToString(salt) +
		"$" + base64.RawStdEncoding.EncodeToString(key)
	ok, rehash, err := cheap().Verify(context.Background(), enc, "password")
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(64, 1, 1, 2)
	enc, err := old.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Hasher{
		NewHasher(128, 1, 1, 2), // memory changed
		NewHasher(64, 2, 1, 2),  // time changed
		NewHasher(64, 1, 2, 2),  // threads changed
	} {
		ok, rehash, err := h.Verify(ctx, enc, "pw")
		if err != nil || !ok || !rehash {
			t.Errorf("m=%d t=%d p=%d: Verify = %v, %v, %v; want true, true, nil",
				h.Memory, h.Time, h.Threads, ok, rehash, err)
		}
		// A wrong password never asks for a rehash.
		ok, rehash, err = h.Verify(ctx, enc, "nope")
		if err != nil || ok || rehash {
			t.Errorf("m=%d t=%d p=%d: Verify(wrong) = %v, %v, %v; want false, false, nil",
				h.Memory, h.Time, h.Threads, ok, rehash, err)
		}
	}
	// Same parameters in a different Hasher: no rehash.
	ok, rehash, err := NewHasher(64, 1, 1, 5).Verify(ctx, enc, "pw")
	if err != nil || !ok || rehash {
		t.Fatalf("same params: Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	ctx := context.Background()
	h := cheap()
	good, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Split(good, "$") // "", alg, v, params, salt, hash
	salt, hash := p[4], p[5]
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	cases := map[string]string{
		"empty":            "",
		"garbage":          "not a hash",
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":          join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, hash),
		"version 16":       join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, hash),
		"missing version":  join("", "argon2id", "m=64,t=1,p=1", salt, hash),
		"extra field":      good + "$x",
		"no leading $":     strings.TrimPrefix(good, "$"),
		"params order":     join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, hash),
		"params missing":   join("", "argon2id", "v=19", "m=64,t=1", salt, hash),
		"params sign":      join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, hash),
		"params space":     join("", "argon2id", "v=19", "m= 64,t=1,p=1", salt, hash),
		"params leading 0": join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, hash),
		"params overflow":  join("", "argon2id", "v=19", "m=64,t=1,p=256", salt, hash),
		"t zero":           join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, hash),
		"p zero":           join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, hash),
		"m too small":      join("", "argon2id", "v=19", "m=7,t=1,p=1", salt, hash),
		"m huge":           join("", "argon2id", "v=19", "m=4294967295,t=1,p=1", salt, hash),
		"t huge":           join("", "argon2id", "v=19", "m=64,t=100000,p=1", salt, hash),
		"salt not base64":  join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!!", hash),
		"salt padded":      join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"==", hash),
		"salt too short":   join("", "argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", hash),
		"hash empty":       join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, ""),
		"hash truncated":   join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, hash[:10]),
		"hash url base64":  join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, strings.Repeat("_", 43)),
	}
	for name, enc := range cases {
		ok, rehash, err := h.Verify(ctx, enc, "pw")
		if !errors.Is(err, ErrMalformedHash) || ok || rehash {
			t.Errorf("%s: Verify(%q) = %v, %v, %v; want ErrMalformedHash", name, enc, ok, rehash, err)
		}
	}
}

func TestNormalizePassword(t *testing.T) {
	cases := []struct{ in, want string }{
		{"\ufb01", "fi"}, // ﬁ ligature
		{"ｐａｓｓｗｏｒｄ１２３", "password123"}, // full-width
		{"Cafe\u0301", "Caf\u00e9"},    // decomposed é → composed
		{"plain ascii", "plain ascii"}, // unchanged
		{"", ""},
	}
	for _, c := range cases {
		if got := NormalizePassword(c.in); got != c.want {
			t.Errorf("NormalizePassword(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

// TestHashNormalizes shows that equivalent spellings of a password verify
// against each other's hash.
func TestHashNormalizes(t *testing.T) {
	ctx := context.Background()
	h := cheap()
	pairs := [][2]string{
		{"\ufb01sh", "fish"},
		{"ｐａｓｓｗｏｒｄ", "password"},
	}
	for _, p := range pairs {
		enc, err := h.Hash(ctx, p[0])
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := h.Verify(ctx, enc, p[1]); err != nil || !ok {
			t.Errorf("hash of %q does not verify %q: %v, %v", p[0], p[1], ok, err)
		}
		enc, err = h.Hash(ctx, p[1])
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := h.Verify(ctx, enc, p[0]); err != nil || !ok {
			t.Errorf("hash of %q does not verify %q: %v, %v", p[1], p[0], ok, err)
		}
	}
}

func TestSemaphoreRespectsContext(t *testing.T) {
	h := NewHasher(64, 1, 1, 1)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}

	h.sem <- struct{}{} // hold the only slot

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with cancelled ctx: err = %v; want context.Canceled", err)
	}
	if ok, _, err := h.Verify(ctx, enc, "pw"); !errors.Is(err, context.Canceled) || ok {
		t.Fatalf("Verify with cancelled ctx = %v, %v; want false, context.Canceled", ok, err)
	}
	h.Dummy(ctx, "pw") // must return, not block

	// A waiter blocked on the full semaphore is released by cancellation.
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx2, "pw")
		done <- err
	}()
	cancel2()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Hash after cancel: err = %v; want context.Canceled", err)
	}

	<-h.sem // release the slot: hashing works again
	if ok, _, err := h.Verify(context.Background(), enc, "pw"); err != nil || !ok {
		t.Fatalf("Verify after release = %v, %v", ok, err)
	}
	if len(h.sem) != 0 {
		t.Fatalf("slots leaked: %d still held", len(h.sem))
	}
}

// TestCancelledContextWithFreeSlot checks that an already cancelled context
// is honoured even when a slot is free.
func TestCancelledContextWithFreeSlot(t *testing.T) {
	h := cheap()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want context.Canceled", err)
		}
	}
}

func TestConcurrentHashing(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(64, 1, 1, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			pw := strings.Repeat("x", i+1)
			enc, err := h.Hash(ctx, pw)
			if err != nil {
				errs <- err
				return
			}
			if ok, _, err := h.Verify(ctx, enc, pw); err != nil || !ok {
				errs <- errors.New("verify failed for " + pw)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(h.sem) != 0 {
		t.Fatalf("slots leaked: %d still held", len(h.sem))
	}
}

func TestDummy(t *testing.T) {
	ctx := context.Background()
	h := cheap()
	h.Dummy(ctx, "whatever")
	first := h.dummyEncoded
	// The dummy hash is well formed, uses h's parameters and is fixed.
	p, _, _, err := decodePHC(first)
	if err != nil {
		t.Fatalf("dummy hash malformed: %v", err)
	}
	if p.memory != h.Memory || p.time != h.Time || p.threads != h.Threads {
		t.Fatalf("dummy hash params %+v differ from hasher", p)
	}
	h.Dummy(ctx, "other")
	if h.dummyEncoded != first {
		t.Fatal("dummy hash recomputed")
	}
	if len(h.sem) != 0 {
		t.Fatalf("slots leaked: %d still held", len(h.sem))
	}
}

func TestNewHasherClamps(t *testing.T) {
	h := NewHasher(0, 0, 0, 0)
	if h.Time != 1 || h.Threads != 1 || h.Memory != 8 || cap(h.sem) != 1 {
		t.Fatalf("NewHasher(0,0,0,0) = m=%d t=%d p=%d cap=%d", h.Memory, h.Time, h.Threads, cap(h.sem))
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, enc, "pw"); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestNewToken(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 43 {
			t.Fatalf("token %q has length %d; want 43", tok, len(tok))
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q is not 32 bytes of base64url: %v", tok, err)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashToken("abc"); got != want {
		t.Fatalf("HashToken(abc) = %s; want %s", got, want)
	}
	tok, _ := NewToken()
	if HashToken(tok) != HashToken(tok) {
		t.Fatal("HashToken not stable")
	}
	if HashToken(tok) == HashToken(tok+"x") {
		t.Fatal("HashToken collides")
	}
	if h := HashToken(tok); len(h) != 64 || strings.ToLower(h) != h {
		t.Fatalf("HashToken = %q; want 64 lowercase hex chars", h)
	}
}

func TestEqualConstantTime(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"", "a", false},
	}
	for _, c := range cases {
		if got := EqualConstantTime(c.a, c.b); got != c.want {
			t.Errorf("EqualConstantTime(%q, %q) = %v; want %v", c.a, c.b, got, c.want)
		}
	}
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSecretBoxRoundTrip(t *testing.T) {
	box, err := NewSecretBox(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range [][]byte{[]byte("JBSWY3DPEHPK3PXP"), {}, bytes.Repeat([]byte{0}, 1000)} {
		s, err := box.Seal(pt)
		if err != nil {
			t.Fatal(err)
		}
		payload, ok := strings.CutPrefix(s, box.CurrentPrefix())
		if !ok || box.CurrentPrefix() != "v2."+KeyID(testKey(1))+"." {
			t.Fatalf("sealed value %q does not begin with v2.<key id>.", s)
		}
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		if err != nil {
			t.Fatalf("sealed value %q is not v2.<key id>.<raw base64url>: %v", s, err)
		}
		if len(raw) != 12+len(pt)+16 { // nonce || ciphertext || tag
			t.Fatalf("sealed length %d; want %d", len(raw), 12+len(pt)+16)
		}
		got, err := box.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q; want %q", got, pt)
		}
	}
	a, _ := box.Seal([]byte("same"))
	b, _ := box.Seal([]byte("same"))
	if a == b {
		t.Fatal("two seals of the same plaintext are identical; nonce not random")
	}
}

func TestSecretBoxTamper(t *testing.T) {
	box, _ := NewSecretBox(testKey(1))
	s, err := box.Seal([]byte("top secret"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := box.CurrentPrefix()
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, prefix))
	for i := range raw { // flip one bit in nonce, ciphertext and tag in turn
		mod := bytes.Clone(raw)
		mod[i] ^= 0x01
		if _, err := box.Open(prefix + base64.RawURLEncoding.EncodeToString(mod)); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("byte %d flipped: err = %v; want ErrDecrypt", i, err)
		}
	}
	for name, bad := range map[string]string{
		"empty":                   "",
		"truncated":               prefix + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"too short":               prefix + base64.RawURLEncoding.EncodeToString(raw[:20]),
		"not base64":              prefix + "***",
		"std base64+":             prefix + base64.StdEncoding.EncodeToString(raw),
		"appended":                prefix + base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw), 0)),
		"without its prefix":      base64.RawURLEncoding.EncodeToString(raw),
		"another version":         "v3" + strings.TrimPrefix(s, "v2"),
		"key id cut":              "v2." + strings.TrimPrefix(s, prefix),
		"old format, not base64":  "***",
		"old format, too short":   base64.RawURLEncoding.EncodeToString(raw[:20]),
		"old format, std base64+": base64.StdEncoding.EncodeToString(raw),
	} {
		if _, err := box.Open(bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v; want ErrDecrypt", name, err)
		}
	}
}

func TestSecretBoxWrongKey(t *testing.T) {
	box1, _ := NewSecretBox(testKey(1))
	box2, _ := NewSecretBox(testKey(2))
	s, _ := box1.Seal([]byte("top secret"))
	if _, err := box2.Open(s); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open with wrong key: err = %v; want ErrDecrypt", err)
	}
}

func TestNewSecretBoxKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewSecretBox(make([]byte, n)); err == nil {
			t.Errorf("NewSecretBox accepted a %d-byte key", n)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 250) // includes bytes that yield '+', '/', '-', '_'
	}
	valid := map[string]string{
		"hex":            hex.EncodeToString(key),
		"hex upper":      strings.ToUpper(hex.EncodeToString(key)),
		"std padded":     base64.StdEncoding.EncodeToString(key),
		"std raw":        base64.RawStdEncoding.EncodeToString(key),
		"url padded":     base64.URLEncoding.EncodeToString(key),
		"url raw":        base64.RawURLEncoding.EncodeToString(key),
		"with newline":   base64.StdEncoding.EncodeToString(key) + "\n",
		"with spaces":    "  " + hex.EncodeToString(key) + " ",
		"all-hex base64": base64.StdEncoding.EncodeToString(testKey(0)), // "AAAA…="
	}
	for name, s := range valid {
		want := key
		if name == "all-hex base64" {
			want = testKey(0)
		}
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: ParseKey(%q) = %x, %v; want %x", name, s, got, err, want)
		}
	}
	if !strings.ContainsAny(valid["std raw"], "+/") || !strings.ContainsAny(valid["url raw"], "-_") {
		t.Fatal("test key does not exercise the alphabet differences")
	}

	invalid := map[string]string{
		"empty":         "",
		"blank":         "   ",
		"short hex":     hex.EncodeToString(key[:31]),
		"long hex":      hex.EncodeToString(append(bytes.Clone(key), 0)),
		"bad hex":       strings.Repeat("zz", 32),
		"short base64":  base64.StdEncoding.EncodeToString(key[:16]),
		"long base64":   base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 0)),
		"garbage":       "not a key!",
		"mixed alphabs": strings.Replace(base64.RawStdEncoding.EncodeToString(key), "+", "-", 1) + "/",
	}
	for name, s := range invalid {
		got, err := ParseKey(s)
		if err == nil {
			t.Errorf("%s: ParseKey(%q) = %x; want error", name, s, got)
			continue
		}
		if !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("%s: error %q does not say what is expected", name, err)
		}
		if len(s) > 8 && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Errorf("%s: error %q leaks the key material", name, err)
		}
	}
	// A hex key of the wrong length is reported as such.
	for _, s := range []string{invalid["short hex"], invalid["long hex"]} {
		if _, err := ParseKey(s); err == nil || !strings.Contains(err.Error(), "looks like hex") {
			t.Errorf("ParseKey(%d hex digits): error %v does not mention hex", len(s), err)
		}
	}
	// The parsed key works with SecretBox.
	k, err := ParseKey(hex.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSecretBox(k); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultHasherSlots: the default hasher runs one hash per CPU Go may
// use, no more (each holds 19 MiB and a CPU) and no fewer.
func TestDefaultHasherSlots(t *testing.T) {
	if got, want := cap(DefaultHasher().sem), runtime.GOMAXPROCS(0); got != want {
		t.Fatalf("default hasher runs %d hashes at once, want %d (GOMAXPROCS)", got, want)
	}
}
