package store

import (
	"context"
	"time"
)

// LockedUntil returns the latest lock time among keys (zero when none is locked).
func (c conn) LockedUntil(ctx context.Context, keys ...string) (time.Time, error) {
	var latest int64
	for _, k := range keys {
		var v int64
		err := c.queryRow(ctx, `SELECT COALESCE(MAX(locked_until), 0) FROM login_throttle WHERE key = ?`, k).Scan(&v)
		if err != nil {
			return time.Time{}, err
		}
		latest = max(latest, v)
	}
	return fromMS(latest), nil
}

// RecordFailure counts one failure for key within a window starting at the
// first failure; it returns the number of failures in the current window.
// The counter lives in the database so all instances share it.
func (tx *Tx) RecordFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, error) {
	_, err := tx.exec(ctx, `INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_throttle.window_start < ? THEN 1 ELSE login_throttle.failures + 1 END,
			window_start = CASE WHEN login_throttle.window_start < ? THEN ? ELSE login_throttle.window_start END`,
		key, ms(now), ms(now.Add(-window)), ms(now.Add(-window)), ms(now))
	if err != nil {
		return 0, err
	}
	var n int
	err = tx.queryRow(ctx, `SELECT failures FROM login_throttle WHERE key = ?`, key).Scan(&n)
	return n, err
}

// Lock locks key until t.
func (tx *Tx) Lock(ctx context.Context, key string, until time.Time) error {
	_, err := tx.exec(ctx, `UPDATE login_throttle SET locked_until = ? WHERE key = ?`, ms(until), key)
	return err
}

// ResetThrottle forgets the failures of key.
func (tx *Tx) ResetThrottle(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM login_throttle WHERE key = ?`, key)
	return err
}

// ReserveAttempt counts one attempt for key, like RecordFailure, unless key
// is locked at now: a locked key is left as it is. It returns the count in
// the current window and the time key is locked until (zero or past when
// it is not locked). Callers reserve an attempt before doing the costly
// work it protects, so that concurrent requests cannot all pass a check
// made before any of them is counted.
func (tx *Tx) ReserveAttempt(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	n, cutoff := ms(now), ms(now.Add(-window))
	_, err := tx.exec(ctx, `INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (?, 1, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN login_throttle.locked_until > ? THEN login_throttle.failures
				WHEN login_throttle.window_start < ? THEN 1 ELSE login_throttle.failures + 1 END,
			window_start = CASE WHEN login_throttle.locked_until > ? THEN login_throttle.window_start
				WHEN login_throttle.window_start < ? THEN ? ELSE login_throttle.window_start END`,
		key, n, n, cutoff, n, cutoff, n)
	if err != nil {
		return 0, time.Time{}, err
	}
	var count int
	var locked int64
	err = tx.queryRow(ctx, `SELECT failures, locked_until FROM login_throttle WHERE key = ?`, key).Scan(&count, &locked)
	return count, fromMS(locked), err
}

// ReleaseAttempt gives back one attempt counted for key (never going below
// zero); an unknown key is left alone.
func (tx *Tx) ReleaseAttempt(ctx context.Context, key string) error {
	_, err := tx.exec(ctx, `UPDATE login_throttle SET failures = failures - 1 WHERE key = ? AND failures > 0`, key)
	return err
}
