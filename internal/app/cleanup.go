package app

import (
	"context"
	"time"

	"portal/internal/store"
)

// purgeAfter is how long spent tokens, rate-limit counters (limits.go) and sent mail are kept.
const purgeAfter = 7 * 24 * time.Hour

// Cleanup deletes expired sessions and stale housekeeping rows.
func (s *Service) Cleanup(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "Cleanup")
	var n int64
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.Purge(ctx, s.clock(), purgeAfter)
		return err
	})
	return n, err
}

// RunCleanup calls Cleanup every interval until ctx ends, and the
// retention purge (retention.go) on the one instance that holds its lease.
// In the same loop, more often (half the device timeout, when that is
// shorter than interval), it marks silent devices disconnected
// (DetectSilentDevices, events.go): a conditional update marks each device
// once, so it needs no lease. Every quarter of the notification window,
// and at once after a critical notification, it sends the due digests
// (SendDigests, notifications.go): a conditional UPDATE gives each
// user's pending notifications to one instance.
func (s *Service) RunCleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	devices := time.NewTicker(min(interval, max(s.deviceTimeout/2, time.Second)))
	defer devices.Stop()
	digests := time.NewTicker(s.digestTick()) // notification digests (notifications.go)
	defer digests.Stop()
	holder := newID() // this instance, for the retention lease
	for {
		if n, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("cleanup failed", "err", err)
		} else if n > 0 {
			s.log.Info("cleanup", "deleted_rows", n)
		}
		s.runRetention(ctx, holder, interval)
	wait:
		for {
			s.detectSilent(ctx)
			s.runDigests(ctx)
			select {
			case <-ctx.Done():
				return
			case <-devices.C:
			case <-digests.C:
			case <-s.notify.wake: // a critical notification: its digest now
			case <-t.C:
				break wait
			}
		}
	}
}

func (s *Service) detectSilent(ctx context.Context) {
	if n, err := s.DetectSilentDevices(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("disconnect detection failed", "err", err)
	} else if n > 0 {
		s.log.Info("devices disconnected", "devices", n)
	}
}
