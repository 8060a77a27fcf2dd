package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/store"
)

// Hooks for the tests of package app_test (which may use testenv).

// RateLimitForTest is one rate limit and what it counts with.
type RateLimitForTest struct{ l *rateLimit }

// RateLimitNamed returns the limit of rateLimits with that name.
func RateLimitNamed(name string) RateLimitForTest {
	for _, l := range rateLimits {
		if l.name == name {
			return RateLimitForTest{l}
		}
	}
	panic("no rate limit " + name)
}

func (r RateLimitForTest) Max() int                  { return r.l.max }
func (r RateLimitForTest) Window() time.Duration     { return r.l.window }
func (r RateLimitForTest) Lock() time.Duration       { return r.l.lock }
func (r RateLimitForTest) MaxLock() time.Duration    { return r.l.maxLock }
func (r RateLimitForTest) Silent() bool              { return r.l.silent }
func (r RateLimitForTest) Key(subject string) string { return r.l.key(subject) }

func (r RateLimitForTest) Reserve(ctx context.Context, tx *store.Tx, subject string, now time.Time) (*portal.Error, error) {
	refused, _, err := r.l.reserve(ctx, tx, subject, now)
	return refused, err
}

func (r RateLimitForTest) Release(ctx context.Context, tx *store.Tx, subject string) error {
	return r.l.release(ctx, tx, subject)
}

func (r RateLimitForTest) Record(ctx context.Context, tx *store.Tx, subject string, now time.Time) (int, time.Duration, error) {
	return r.l.record(ctx, tx, subject, now)
}
