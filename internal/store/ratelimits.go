package store

// The rate_limits table: one row per limited key (a limit's name and what
// it counts, e.g. "login:ip:192.0.2.1"), with the events counted in the
// current window and the time the key is locked until. The limits
// themselves (windows, maxima, locks) are the service's (internal/app/limits.go);
// the counters live in the database so all instances share them.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LockedUntil returns the latest lock time among keys (zero when none is locked).
func (c conn) LockedUntil(ctx context.Context, keys ...string) (_ time.Time, err error) {
	defer wrap(&err, "LockedUntil")
	each, err := c.lockedUntil(ctx, keys)
	var latest time.Time
	for _, t := range each {
		if t.After(latest) {
			latest = t
		}
	}
	return latest, err
}

// LockedUntilEach returns the time each of keys is locked until (zero for
// a key that is not locked), in one query.
func (c conn) LockedUntilEach(ctx context.Context, keys ...string) (_ []time.Time, err error) {
	defer wrap(&err, "LockedUntilEach")
	return c.lockedUntil(ctx, keys)
}

func (c conn) lockedUntil(ctx context.Context, keys []string) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := c.query(ctx, `SELECT key, locked_until FROM rate_limits WHERE key IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		for i := range keys {
			if keys[i] == k && v > 0 {
				out[i] = fromMS(v)
			}
		}
	}
	return out, rows.Err()
}

// CountEvent counts one event for key within a window starting at the
// first event of the window (a key whose window has passed starts again at
// 1); it returns the number of events in the current window. It counts
// whether or not key is locked. It is one statement, which also reads the
// count back: a key every request writes (a client address) is held for
// as short a time as the transaction allows.
func (tx *Tx) CountEvent(ctx context.Context, key string, now time.Time, window time.Duration) (_ int, err error) {
	defer wrap(&err, "CountEvent(%s)", key)
	n, cutoff := ms(now), ms(now.Add(-window))
	var count int
	err = tx.queryRow(ctx, `INSERT INTO rate_limits (key, events, window_start, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			events = CASE WHEN rate_limits.window_start < ? THEN 1 ELSE rate_limits.events + 1 END,
			window_start = CASE WHEN rate_limits.window_start < ? THEN ? ELSE rate_limits.window_start END
		RETURNING events`,
		key, n, cutoff, cutoff, n).Scan(&count)
	return count, err
}

// Lock locks key until t.
func (tx *Tx) Lock(ctx context.Context, key string, until time.Time) (err error) {
	defer wrap(&err, "Lock(%s)", key)
	_, err = tx.exec(ctx, `UPDATE rate_limits SET locked_until = ? WHERE key = ?`, ms(until), key)
	return err
}

// ResetLimit forgets the events of key.
func (tx *Tx) ResetLimit(ctx context.Context, key string) (err error) {
	defer wrap(&err, "ResetLimit(%s)", key)
	return tx.execLater(ctx, `DELETE FROM rate_limits WHERE key = ?`, key)
}

// ReserveAttempt counts one attempt for key, like CountEvent, unless key
// is locked at now: a locked key is left as it is. It returns the count in
// the current window and the time key is locked until (zero or past when
// it is not locked). Callers reserve an attempt before doing the costly
// work it protects, so that concurrent requests cannot all pass a check
// made before any of them is counted. Like CountEvent, it is one
// statement.
func (tx *Tx) ReserveAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	a, err := tx.ReserveAttempts(ctx, now, window, key)
	if err != nil {
		return 0, time.Time{}, err
	}
	return a[0].N, a[0].Locked, nil
}

// Attempt is what ReserveAttempts counted for one key: the attempts in
// the key's window, this one included unless the key was locked, and the
// time the key is locked until.
type Attempt struct {
	N      int
	Locked time.Time
}

// ReserveAttempts is ReserveAttempt for each of keys (distinct, sharing
// one window), in one statement and so one round trip: an attempt counted
// on an account and on a client address at once. The rows are written,
// and so held, in the order of keys (a multi-row INSERT takes them in the
// order of its VALUES), which lets callers keep one order of rows across
// their transactions. The result is in the order of keys.
func (tx *Tx) ReserveAttempts(ctx context.Context, now time.Time, window time.Duration, keys ...string) (_ []Attempt, err error) {
	defer wrap(&err, "ReserveAttempts(%s)", strings.Join(keys, ", "))
	if len(keys) == 0 {
		return nil, nil
	}
	n, cutoff := ms(now), ms(now.Add(-window))
	args := make([]any, 0, 2*len(keys)+5)
	for _, k := range keys {
		args = append(args, k, n)
	}
	args = append(args, n, cutoff, n, cutoff, n)
	rows, err := tx.query(ctx, `INSERT INTO rate_limits (key, events, window_start, locked_until) VALUES (?, 1, ?, 0)`+
		strings.Repeat(", (?, 1, ?, 0)", len(keys)-1)+`
		ON CONFLICT (key) DO UPDATE SET
			events = CASE WHEN rate_limits.locked_until > ? THEN rate_limits.events
				WHEN rate_limits.window_start < ? THEN 1 ELSE rate_limits.events + 1 END,
			window_start = CASE WHEN rate_limits.locked_until > ? THEN rate_limits.window_start
				WHEN rate_limits.window_start < ? THEN ? ELSE rate_limits.window_start END
		RETURNING key, events, locked_until`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]Attempt, len(keys))
	seen := 0
	for rows.Next() {
		var k string
		var a Attempt
		var locked int64
		if err := rows.Scan(&k, &a.N, &locked); err != nil {
			return nil, err
		}
		a.Locked = fromMS(locked)
		for i := range keys { // RETURNING's order is not promised
			if keys[i] == k {
				out[i] = a
				seen++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if seen != len(keys) {
		return nil, fmt.Errorf("%d rows counted for %d keys", seen, len(keys))
	}
	return out, nil
}

// UnreserveAttempt takes back the attempt that ReserveAttempt counted for
// key at now in the same transaction, leaving key as it was before: a
// window that attempt began (a new row, or a passed window started again)
// is removed, which counts as no events, like the passed one; otherwise the
// attempt is given back as ReleaseAttempt does.
func (tx *Tx) UnreserveAttempt(ctx context.Context, key string, now time.Time) (err error) {
	defer wrap(&err, "UnreserveAttempt(%s)", key)
	res, err := tx.exec(ctx, `DELETE FROM rate_limits WHERE key = ? AND events = 1 AND window_start = ?`, key, ms(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE rate_limits SET events = events - 1 WHERE key = ? AND events > 0`, key)
	return err
}

// ReleaseAttempt gives back one attempt counted for key (never going below
// zero); an unknown key is left alone.
func (tx *Tx) ReleaseAttempt(ctx context.Context, key string) (err error) {
	defer wrap(&err, "ReleaseAttempt(%s)", key)
	return tx.execLater(ctx, `UPDATE rate_limits SET events = events - 1 WHERE key = ? AND events > 0`, key)
}
