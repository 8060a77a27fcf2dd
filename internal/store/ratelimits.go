package store

// The rate_limits table: one row per limited key (a limit's name and what
// it counts, e.g. "login:ip:192.0.2.1"), with the events counted in the
// current window and the time the key is locked until. The limits
// themselves (windows, maxima, locks) are the service's (internal/app/limits.go);
// the counters live in the database so all instances share them.

import (
	"context"
	"time"
)

// LockedUntil returns the latest lock time among keys (zero when none is locked).
func (c conn) LockedUntil(ctx context.Context, keys ...string) (_ time.Time, err error) {
	defer wrap(&err, "LockedUntil")
	var latest int64
	for _, k := range keys {
		var v int64
		err := c.queryRow(ctx, `SELECT COALESCE(MAX(locked_until), 0) FROM rate_limits WHERE key = ?`, k).Scan(&v)
		if err != nil {
			return time.Time{}, err
		}
		latest = max(latest, v)
	}
	return fromMS(latest), nil
}

// CountEvent counts one event for key within a window starting at the
// first event of the window (a key whose window has passed starts again at
// 1); it returns the number of events in the current window. It counts
// whether or not key is locked.
func (tx *Tx) CountEvent(ctx context.Context, key string, now time.Time, window time.Duration) (_ int, err error) {
	defer wrap(&err, "CountEvent(%s)", key)
	_, err = tx.exec(ctx, `INSERT INTO rate_limits (key, events, window_start, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			events = CASE WHEN rate_limits.window_start < ? THEN 1 ELSE rate_limits.events + 1 END,
			window_start = CASE WHEN rate_limits.window_start < ? THEN ? ELSE rate_limits.window_start END`,
		key, ms(now), ms(now.Add(-window)), ms(now.Add(-window)), ms(now))
	if err != nil {
		return 0, err
	}
	var n int
	err = tx.queryRow(ctx, `SELECT events FROM rate_limits WHERE key = ?`, key).Scan(&n)
	return n, err
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
	_, err = tx.exec(ctx, `DELETE FROM rate_limits WHERE key = ?`, key)
	return err
}

// ReserveAttempt counts one attempt for key, like CountEvent, unless key
// is locked at now: a locked key is left as it is. It returns the count in
// the current window and the time key is locked until (zero or past when
// it is not locked). Callers reserve an attempt before doing the costly
// work it protects, so that concurrent requests cannot all pass a check
// made before any of them is counted.
func (tx *Tx) ReserveAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (_ int, _ time.Time, err error) {
	defer wrap(&err, "ReserveAttempt(%s)", key)
	n, cutoff := ms(now), ms(now.Add(-window))
	_, err = tx.exec(ctx, `INSERT INTO rate_limits (key, events, window_start, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			events = CASE WHEN rate_limits.locked_until > ? THEN rate_limits.events
				WHEN rate_limits.window_start < ? THEN 1 ELSE rate_limits.events + 1 END,
			window_start = CASE WHEN rate_limits.locked_until > ? THEN rate_limits.window_start
				WHEN rate_limits.window_start < ? THEN ? ELSE rate_limits.window_start END`,
		key, n, n, cutoff, n, cutoff, n)
	if err != nil {
		return 0, time.Time{}, err
	}
	var count int
	var locked int64
	err = tx.queryRow(ctx, `SELECT events, locked_until FROM rate_limits WHERE key = ?`, key).Scan(&count, &locked)
	return count, fromMS(locked), err
}

// ReleaseAttempt gives back one attempt counted for key (never going below
// zero); an unknown key is left alone.
func (tx *Tx) ReleaseAttempt(ctx context.Context, key string) (err error) {
	defer wrap(&err, "ReleaseAttempt(%s)", key)
	_, err = tx.exec(ctx, `UPDATE rate_limits SET events = events - 1 WHERE key = ? AND events > 0`, key)
	return err
}
