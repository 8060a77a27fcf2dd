package app_test

import (
	"context"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestRateLimitSemantics pins what each kind of limit does at and over its
// maximum, on both databases: attempts reserved before the work (logins,
// sign-ups), with and without a backoff, and events recorded after the fact
// (mails, wrong passwords and codes), refused or silently dropped.
func TestRateLimitSemantics(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		t0 := testStart
		locked := func(l app.RateLimitForTest, subject string) time.Time {
			t.Helper()
			v, err := db.LockedUntil(ctx, l.Key(subject))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		reserve := func(l app.RateLimitForTest, subject string, now time.Time) *portal.Error {
			t.Helper()
			var refused *portal.Error
			if err := db.Write(ctx, func(tx *store.Tx) (err error) {
				refused, err = l.Reserve(ctx, tx, subject, now)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return refused
		}
		record := func(l app.RateLimitForTest, subject string, now time.Time) (int, time.Duration, error) {
			t.Helper()
			var n int
			var lock time.Duration
			err := db.Write(ctx, func(tx *store.Tx) (err error) {
				n, lock, err = l.Record(ctx, tx, subject, now)
				return err
			})
			return n, lock, err
		}
		wantRefusal := func(what string, e *portal.Error, d time.Duration) {
			t.Helper()
			if e == nil || e.Code != portal.ETOOMANY || e.RetryAfter != d {
				t.Errorf("%s: %v, want 429 after %v", what, e, d)
			}
		}

		// Reserved, no backoff (login per address, sign-ups): max attempts
		// go through; the next is refused and locks the key for lock,
		// counting nothing while locked; a release gives an attempt back.
		for _, name := range []string{"login:ip", "signup:ip"} {
			l := app.RateLimitNamed(name)
			for i := range l.Max() {
				if e := reserve(l, "a", t0); e != nil {
					t.Fatalf("%s: attempt %d refused: %v", name, i+1, e)
				}
			}
			if !locked(l, "a").IsZero() {
				t.Errorf("%s: locked after %d attempts", name, l.Max())
			}
			wantRefusal(name+" over max", reserve(l, "a", t0), l.Lock())
			if got := locked(l, "a"); !got.Equal(t0.Add(l.Lock())) {
				t.Errorf("%s: locked until %v, want %v", name, got, t0.Add(l.Lock()))
			}
			wantRefusal(name+" while locked", reserve(l, "a", t0.Add(time.Second)), l.Lock()-time.Second)
			if e := reserve(l, "b", t0); e != nil {
				t.Errorf("%s: another subject refused: %v", name, e)
			}
		}
		{
			l := app.RateLimitNamed("login:ip")
			for range l.Max() - 1 {
				reserve(l, "nat", t0)
			}
			if err := db.Write(ctx, func(tx *store.Tx) error { return l.Release(ctx, tx, "nat") }); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if e := reserve(l, "nat", t0); e != nil {
					t.Errorf("login:ip: attempt %d after a release refused: %v", i+1, e)
				}
			}
		}

		// Reserved with a backoff (login per account): the max-th attempt
		// goes through and locks for lock; once the lock ends the next one
		// goes through and locks for twice as long.
		{
			l := app.RateLimitNamed("login:acct")
			for i := range l.Max() {
				if e := reserve(l, "ann", t0); e != nil {
					t.Fatalf("login:acct: attempt %d refused: %v", i+1, e)
				}
			}
			if got := locked(l, "ann"); !got.Equal(t0.Add(l.Lock())) {
				t.Errorf("login:acct: locked until %v after %d attempts, want %v", got, l.Max(), t0.Add(l.Lock()))
			}
			wantRefusal("login:acct while locked", reserve(l, "ann", t0), l.Lock())
			t1 := t0.Add(l.Lock())
			if e := reserve(l, "ann", t1); e != nil {
				t.Errorf("login:acct: attempt after the lock refused: %v", e)
			}
			if got := locked(l, "ann"); !got.Equal(t1.Add(2 * l.Lock())) {
				t.Errorf("login:acct: locked until %v, want %v (doubled)", got, t1.Add(2*l.Lock()))
			}
		}

		// Recorded: silent limits count past max without refusing; the
		// others refuse over max (rolling the count back) and, with a lock,
		// lock from the max-th event; with a backoff every event from the
		// max-th locks, longer each time, and none is refused.
		for _, name := range []string{"signupmail", "recovermail", "emailchange", "oldpw", "recover:ip", "invitemail", "invitemail:org", "2fa"} {
			l := app.RateLimitNamed(name)
			for i := 1; i <= l.Max(); i++ {
				n, lock, err := record(l, "x", t0)
				wantLock := time.Duration(0)
				if i == l.Max() {
					wantLock = l.Lock()
				}
				if err != nil || n != i || lock != wantLock {
					t.Fatalf("%s: event %d = %d, lock %v, %v; want %d, lock %v", name, i, n, lock, err, i, wantLock)
				}
			}
			n, lock, err := record(l, "x", t0)
			switch {
			case l.Silent():
				if err != nil || n != l.Max()+1 {
					t.Errorf("%s over max = %d, %v; want %d and no refusal", name, n, err, l.Max()+1)
				}
			case l.MaxLock() > 0:
				if err != nil || lock != 2*l.Lock() {
					t.Errorf("%s over max = lock %v, %v; want lock %v and no refusal", name, lock, err, 2*l.Lock())
				}
			default:
				var e *portal.Error
				if pe, ok := err.(*portal.Error); ok {
					e = pe
				}
				wantRefusal(name+" over max", e, l.Window())
				if n, _, _ := record(l, "x", t0); n != l.Max()+1 {
					t.Errorf("%s: a refused event was counted (%d)", name, n-1)
				}
			}
		}
	})
}
