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
func (s *Service) RunCleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	holder := newID() // this instance, for the retention lease
	for {
		if n, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("cleanup failed", "err", err)
		} else if n > 0 {
			s.log.Info("cleanup", "deleted_rows", n)
		}
		s.runRetention(ctx, holder, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
