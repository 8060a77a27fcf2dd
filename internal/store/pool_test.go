package store_test

import (
	"context"
	"sync"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestPoolKeepsConnections: under more concurrent requests than the pools
// hold, a connection given back is kept for the next one, never closed to
// be opened again (on PostgreSQL a new backend process each time), and
// none is closed when the burst ends.
func TestPoolKeepsConnections(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for range 20 {
					if _, err := db.AuthEpoch(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		w, r := store.PoolStats(db)
		for _, p := range []struct {
			name string
			n    int64
			open int
		}{{"write", w.MaxIdleClosed, w.OpenConnections}, {"read", r.MaxIdleClosed, r.OpenConnections}} {
			if p.n != 0 {
				t.Errorf("%s pool: %d connections closed for being idle beyond the limit (%d open)", p.name, p.n, p.open)
			}
		}
		if r.OpenConnections < 2 {
			t.Errorf("read pool: %d connections open after 64 concurrent readers; the test did not fill it", r.OpenConnections)
		}
	})
}
