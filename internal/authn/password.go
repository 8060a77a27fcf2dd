package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// OWASP password storage cheat sheet, argon2id, first option.
const (
	DefaultMemoryKiB uint32 = 19 * 1024 // 19 MiB
	DefaultTime      uint32 = 2
	DefaultThreads   uint8  = 1

	saltLen = 16
	keyLen  = 32
)

// Limits applied to parameters read back from an encoded hash, so that a
// corrupted or hostile row cannot make Verify allocate gigabytes or spin for
// minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// ErrMalformedHash is returned (wrapped) by Verify when the encoded hash is
// not a well-formed argon2id PHC string.
var ErrMalformedHash = errors.New("authn: malformed password hash")

// b64 is the PHC base64 flavour: standard alphabet, no padding. Strict
// rejects non-canonical encodings (non-zero trailing bits).
var b64 = base64.RawStdEncoding.Strict()

// Hasher hashes and verifies passwords with argon2id. Create it with
// NewHasher or DefaultHasher; it is safe for concurrent use.
type Hasher struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes

	// sem caps the number of argon2 computations running at once: each
	// one allocates Memory KiB, so 64 simultaneous logins at 19 MiB would
	// otherwise need 1.2 GiB. A nil sem means no limit.
	sem chan struct{}

	dummyOnce    sync.Once
	dummyEncoded string
}

// NewHasher returns a Hasher with the given argon2id parameters that runs at
// most maxConcurrent hashes at a time. Zero time, threads or maxConcurrent
// are raised to 1 (argon2 panics on zero time or threads), and memory to the
// argon2 minimum of 8 KiB per thread.
func NewHasher(memoryKiB, time uint32, threads uint8, maxConcurrent int) *Hasher {
	threads = max(threads, 1)
	return &Hasher{
		Memory:  max(memoryKiB, 8*uint32(threads)),
		Time:    max(time, 1),
		Threads: threads,
		sem:     make(chan struct{}, max(maxConcurrent, 1)),
	}
}

// DefaultHasher returns a Hasher with the OWASP parameters (19 MiB, t=2,
// p=1) running one hash per CPU Go may use (GOMAXPROCS) at a time: more
// would not finish sooner, since a hash keeps its CPU busy from start to
// end, but each would hold its 19 MiB longer and make every login in
// progress slower; the others wait for a slot in order of arrival.
func DefaultHasher() *Hasher {
	return NewHasher(DefaultMemoryKiB, DefaultTime, DefaultThreads, runtime.GOMAXPROCS(0))
}

// NormalizePassword applies Unicode NFKC so that the same password typed on
// different keyboards or input methods (ligatures, full-width forms,
// composed vs decomposed accents) hashes identically. Hash, Verify and Dummy
// apply it themselves; it is exported for callers that check password
// policy (e.g. minimum length) on the normalised form.
func NormalizePassword(p string) string {
	return norm.NFKC.String(p)
}

// Hash returns the PHC-encoded argon2id hash of the (normalised) password
// with a fresh random salt. It waits for a free slot in the concurrency cap
// and returns ctx.Err() if ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)

	p := params{memory: h.Memory, time: h.Time, threads: h.Threads}
	key, err := h.derive(ctx, password, salt, p, keyLen)
	if err != nil {
		return "", err
	}
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the encoded hash. needsRehash is
// true when the password matches but the hash was made with parameters
// (memory, time, threads, salt or key length) other than h's, so the caller
// should store a fresh Hash of the password. A malformed encoded string
// yields an error wrapping ErrMalformedHash; a cancelled ctx yields
// ctx.Err().
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok bool, needsRehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, password, salt, p, uint32(len(want)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	needsRehash = p.memory != h.Memory || p.time != h.Time || p.threads != h.Threads ||
		len(salt) != saltLen || len(want) != keyLen
	return true, needsRehash, nil
}

// Dummy performs the same work as a Verify with h's parameters and throws
// the result away. Call it when the account does not exist, so that the
// response time does not reveal whether an e-mail address is registered.
func (h *Hasher) Dummy(ctx context.Context, password string) {
	h.dummyOnce.Do(func() {
		// The dummy hash never has to match anything, so random salt and
		// key bytes are as good as a real argon2 output and cost nothing.
		// What matters is that Verify parses it and runs argon2 with h's
		// parameters, exactly as for a real account.
		salt := make([]byte, saltLen)
		key := make([]byte, keyLen)
		rand.Read(salt)
		rand.Read(key)
		h.dummyEncoded = encodePHC(params{memory: h.Memory, time: h.Time, threads: h.Threads}, salt, key)
	})
	_, _, _ = h.Verify(ctx, h.dummyEncoded, password)
}

// derive runs argon2id inside the concurrency cap.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p params, n uint32) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return argon2.IDKey([]byte(NormalizePassword(password)), salt, p.time, p.memory, p.threads, n), nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	// Check first: select picks at random among ready cases, so a free
	// slot could otherwise win over an already cancelled context.
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sem == nil {
		return nil
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() {
	if h.sem != nil {
		<-h.sem
	}
}

type params struct {
	memory  uint32
	time    uint32
	threads uint8
}

func encodePHC(p params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash" strictly: fields
// in this order, decimal numbers without signs, canonical base64.
func decodePHC(s string) (p params, salt, key []byte, err error) {
	bad := func(format string, args ...any) (params, []byte, []byte, error) {
		return params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 '$'-separated fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm %q is not argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version %q", parts[2])
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want parameters m=,t=,p=")
	}
	m, err1 := parseParam(kv[0], "m=", 32)
	t, err2 := parseParam(kv[1], "t=", 32)
	th, err3 := parseParam(kv[2], "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return bad("parameters %q: %v", parts[3], err)
	}
	switch {
	case th < 1:
		return bad("p must be at least 1")
	case t < 1 || t > maxTime:
		return bad("t=%d out of range 1..%d", t, maxTime)
	case m < 8*th || m > maxMemoryKiB: // argon2 needs 8 KiB per lane
		return bad("m=%d out of range %d..%d", m, 8*th, maxMemoryKiB)
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return bad("salt: %v", err)
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return bad("salt length %d out of range %d..%d", len(salt), minSaltLen, maxSaltLen)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return bad("hash: %v", err)
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return bad("hash length %d out of range %d..%d", len(key), minKeyLen, maxKeyLen)
	}
	return params{memory: uint32(m), time: uint32(t), threads: uint8(th)}, salt, key, nil
}

// parseParam parses "name=digits" into an unsigned integer of the given bit
// size, rejecting signs, spaces and leading zeros.
func parseParam(s, prefix string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("want %q", prefix+"N")
	}
	if v == "" || v[0] < '0' || v[0] > '9' || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return n, nil
}
