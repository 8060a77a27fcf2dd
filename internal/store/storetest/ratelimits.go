package storetest

import (
	"context"
	"testing"
	"time"

	"portal/internal/store"
)

func record(t *testing.T, db *store.DB, key string, now time.Time, window time.Duration) int {
	t.Helper()
	var n int
	write(t, db, func(tx *store.Tx) (err error) {
		n, err = tx.CountEvent(context.Background(), key, now, window)
		return err
	})
	return n
}

func testRateLimitWindow(t *testing.T, db *store.DB) {
	const w = 15 * time.Minute
	steps := []struct {
		at   time.Duration
		want int
	}{
		{0, 1},
		{time.Minute, 2},
		{14 * time.Minute, 3},
		{w, 4},                    // window_start == now-window: still the same window
		{w + time.Millisecond, 1}, // the window has passed: counting starts again
		{w + 2*time.Minute, 2},
		{2*w + time.Millisecond, 3},
		{2*w + 2*time.Millisecond, 1},
	}
	for _, s := range steps {
		if n := record(t, db, "login:acct:a@example.com", t0.Add(s.at), w); n != s.want {
			t.Fatalf("CountEvent at +%v = %d, want %d", s.at, n, s.want)
		}
	}
	if n := record(t, db, "login:ip:192.0.2.1", t0.Add(2*w+2*time.Millisecond), w); n != 1 {
		t.Fatalf("another key: %d, want 1 (keys are independent)", n)
	}
}

func testRateLimitLock(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const w = 15 * time.Minute
	locked := func(keys ...string) time.Time {
		t.Helper()
		v, err := db.LockedUntil(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := locked("a", "b"); !v.IsZero() {
		t.Fatalf("LockedUntil with no rows = %v, want zero", v)
	}
	if v := locked(); !v.IsZero() {
		t.Fatalf("LockedUntil() = %v, want zero", v)
	}
	record(t, db, "a", t0, w)
	record(t, db, "b", t0, w)
	if v := locked("a", "b"); !v.IsZero() {
		t.Fatalf("LockedUntil after failures only = %v, want zero", v)
	}
	ua, ub := t0.Add(time.Minute), t0.Add(15*time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, "a", ua) })
	wantTime(t, "LockedUntil(a)", locked("a"), ua)
	wantTime(t, "LockedUntil(a, c)", locked("a", "c"), ua)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, "b", ub) })
	wantTime(t, "LockedUntil(a, b) (the latest)", locked("a", "b"), ub)
	wantTime(t, "LockedUntil(b, a) (the latest)", locked("b", "a"), ub)
	each, err := db.LockedUntilEach(ctx, "b", "c", "a")
	if err != nil || len(each) != 3 || !each[0].Equal(ub) || !each[1].IsZero() || !each[2].Equal(ua) {
		t.Fatalf("LockedUntilEach(b, c, a) = %v, %v; want [%v 0 %v]", each, err, ub, ua)
	}
	// Further failures keep the lock.
	record(t, db, "a", t0.Add(time.Second), w)
	wantTime(t, "LockedUntil(a) after another failure", locked("a"), ua)

	write(t, db, func(tx *store.Tx) error { return tx.ResetLimit(ctx, "a") })
	if v := locked("a"); !v.IsZero() {
		t.Fatalf("LockedUntil(a) after reset = %v", v)
	}
	if n := record(t, db, "a", t0.Add(2*time.Second), w); n != 1 {
		t.Fatalf("failures after reset = %d, want 1", n)
	}
	wantTime(t, "LockedUntil(b) after resetting a", locked("b"), ub)
	write(t, db, func(tx *store.Tx) error { return tx.ResetLimit(ctx, "never-seen") })
}

func reserve(t *testing.T, db *store.DB, key string, now time.Time, window time.Duration) (int, time.Time) {
	t.Helper()
	var n int
	var locked time.Time
	write(t, db, func(tx *store.Tx) (err error) {
		n, locked, err = tx.ReserveAttempt(context.Background(), key, now, window)
		return err
	})
	return n, locked
}

func release(t *testing.T, db *store.DB, key string) {
	t.Helper()
	write(t, db, func(tx *store.Tx) error { return tx.ReleaseAttempt(context.Background(), key) })
}

// testReserveRelease: ReserveAttempt counts like CountEvent (same window)
// and returns the lock; a locked key is left as it is (neither counted nor
// its window moved); ReleaseAttempt gives one attempt back, never going
// below zero, and leaves an unknown key alone.
func testReserveRelease(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const w = 15 * time.Minute
	const k = "login:ip:192.0.2.9"
	for i := 1; i <= 3; i++ {
		n, locked := reserve(t, db, k, t0.Add(time.Duration(i)*time.Second), w)
		if n != i || !locked.IsZero() {
			t.Fatalf("reservation %d = %d, locked %v; want %d, not locked", i, n, locked, i)
		}
	}
	release(t, db, k)
	if n, _ := reserve(t, db, k, t0.Add(4*time.Second), w); n != 3 {
		t.Fatalf("after a release, reservation = %d, want 3", n)
	}
	// Locked: nothing is counted and the lock is returned.
	until := t0.Add(10 * time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, k, until) })
	for _, at := range []time.Duration{5 * time.Second, 9 * time.Minute} {
		n, locked := reserve(t, db, k, t0.Add(at), w)
		if n != 3 {
			t.Errorf("reservation while locked (+%v) = %d, want 3 (not counted)", at, n)
		}
		wantTime(t, "lock returned while locked", locked, until)
	}
	// At the end of the lock the key counts again; once the window (from
	// the first attempt at +1s) has passed, from 1.
	if n, locked := reserve(t, db, k, until, w); n != 4 || !locked.Equal(until) {
		t.Errorf("reservation when the lock ends = %d, %v; want 4, %v", n, locked, until)
	}
	if n, _ := reserve(t, db, k, t0.Add(w+time.Second+time.Millisecond), w); n != 1 {
		t.Errorf("reservation after the window = %d, want 1", n)
	}
	// Releases never go below zero.
	release(t, db, k)
	release(t, db, k)
	if n, _ := reserve(t, db, k, t0.Add(w+2*time.Second), w); n != 1 {
		t.Errorf("reservation after releasing more than was reserved = %d, want 1", n)
	}
	// An unknown key: nothing happens, no row appears.
	release(t, db, "never-seen")
	if n := record(t, db, "never-seen", t0, w); n != 1 {
		t.Errorf("CountEvent after releasing an unknown key = %d, want 1", n)
	}
}

// testUnreserve: UnreserveAttempt leaves a key as it was before the
// ReserveAttempt at the same time: a new key counts from 1 again, as does
// one whose window had passed; in a running window the attempt is given
// back and the window keeps its start.
func testUnreserve(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const w = 15 * time.Minute
	unreserve := func(key string, now time.Time) {
		t.Helper()
		write(t, db, func(tx *store.Tx) error {
			if _, _, err := tx.ReserveAttempt(ctx, key, now, w); err != nil {
				return err
			}
			return tx.UnreserveAttempt(ctx, key, now)
		})
	}
	// A new key.
	unreserve("new", t0)
	if n, _ := reserve(t, db, "new", t0.Add(w), w); n != 1 {
		t.Errorf("new key: %d after an undone reservation, want 1", n)
	}
	if n, _ := reserve(t, db, "new", t0.Add(w+time.Second), w); n != 2 {
		t.Errorf("new key: %d, want 2 (the window starts at the first counted attempt, +15m)", n)
	}
	// A running window keeps its start and its count.
	reserve(t, db, "running", t0, w)
	reserve(t, db, "running", t0.Add(time.Minute), w)
	unreserve("running", t0.Add(2*time.Minute))
	if n, _ := reserve(t, db, "running", t0.Add(3*time.Minute), w); n != 3 {
		t.Errorf("running window: %d, want 3", n)
	}
	if n, _ := reserve(t, db, "running", t0.Add(w+time.Millisecond), w); n != 1 {
		t.Errorf("running window: %d after it passed, want 1 (it kept its start)", n)
	}
	// A passed window: as if nothing had been counted since.
	reserve(t, db, "passed", t0, w)
	unreserve("passed", t0.Add(time.Hour))
	if n, _ := reserve(t, db, "passed", t0.Add(time.Hour+w), w); n != 1 {
		t.Errorf("passed window: %d, want 1", n)
	}
	if n, _ := reserve(t, db, "passed", t0.Add(time.Hour+w+time.Second), w); n != 2 {
		t.Errorf("passed window: %d, want 2 (the window starts at the first counted attempt)", n)
	}
}

// testReserveAttempts: ReserveAttempts counts each key as ReserveAttempt
// would, a locked key left alone while the others count, and answers in
// the order of its keys. On PostgreSQL it takes the rows in that order: a
// call whose second key is held by another transaction already holds its
// first, so a third transaction writing the first key waits too (were the
// rows taken in another order, two logins could deadlock).
func testReserveAttempts(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const w = 15 * time.Minute
	reserveAll := func(now time.Time, keys ...string) []store.Attempt {
		t.Helper()
		var a []store.Attempt
		write(t, db, func(tx *store.Tx) (err error) {
			a, err = tx.ReserveAttempts(ctx, now, w, keys...)
			return err
		})
		return a
	}
	reserve(t, db, "acct", t0, w)
	reserve(t, db, "acct", t0.Add(time.Second), w)
	got := reserveAll(t0.Add(2*time.Second), "acct", "addr", "other")
	if len(got) != 3 || got[0].N != 3 || got[1].N != 1 || got[2].N != 1 {
		t.Fatalf("ReserveAttempts(acct, addr, other) = %+v; want counts 3, 1, 1", got)
	}
	// The answer follows the keys, not the rows' order.
	got = reserveAll(t0.Add(3*time.Second), "other", "acct")
	if got[0].N != 2 || got[1].N != 4 {
		t.Fatalf("ReserveAttempts(other, acct) = %+v; want counts 2, 4", got)
	}
	// A locked key is neither counted nor moved; the others count.
	until := t0.Add(time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, "addr", until) })
	got = reserveAll(t0.Add(4*time.Second), "acct", "addr")
	if got[0].N != 5 || !got[0].Locked.IsZero() || got[1].N != 1 {
		t.Fatalf("ReserveAttempts(acct, locked addr) = %+v; want 5 unlocked, then 1 (not counted)", got)
	}
	wantTime(t, "lock of addr", got[1].Locked, until)

	if db.Dialect() != store.Postgres {
		return // one writer: no transaction waits on another's rows
	}
	holdB := make(chan struct{})
	releaseB := make(chan struct{})
	heldDone := make(chan error, 1)
	go func() {
		heldDone <- db.Write(ctx, func(tx *store.Tx) error {
			if _, _, err := tx.ReserveAttempt(ctx, "order-b", t0, w); err != nil {
				return err
			}
			close(holdB)
			<-releaseB
			return nil
		})
	}()
	<-holdB
	bothDone := make(chan error, 1)
	go func() { // waits on order-b, holding order-a
		bothDone <- db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.ReserveAttempts(ctx, t0, w, "order-a", "order-b")
			return err
		})
	}()
	// Until order-a is held, a write of it alone goes through; once held,
	// it waits (its statement timeout is short: it fails instead).
	deadline := time.Now().Add(5 * time.Second)
	waited := false
	for !waited && time.Now().Before(deadline) {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := db.Write(short, func(tx *store.Tx) error {
			_, _, err := tx.ReserveAttempt(short, "order-a", t0, w)
			return err
		})
		cancel()
		waited = err != nil
	}
	close(releaseB)
	if !waited {
		t.Error("a write of order-a never waited while ReserveAttempts(order-a, order-b) waited on order-b: the first key's row was not held first")
	}
	if err := <-heldDone; err != nil {
		t.Fatal(err)
	}
	if err := <-bothDone; err != nil {
		t.Fatal(err)
	}
}
