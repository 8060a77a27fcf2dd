package store_test

import (
	"context"
	"database/sql"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestPoolKeepsConnections: when every connection a pool may open is in
// use at once and all are given back together, the pool keeps them all
// for the next requests: none is closed to be opened again a moment
// later (on PostgreSQL a new backend process each time).
func TestPoolKeepsConnections(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		write, read := store.Pools(db)
		for _, p := range []struct {
			name string
			pool *sql.DB
		}{{"write", write}, {"read", read}} {
			limit := p.pool.Stats().MaxOpenConnections
			if limit < 1 {
				t.Fatalf("%s pool: no limit on open connections", p.name)
			}
			conns := make([]*sql.Conn, limit)
			for i := range conns {
				c, err := p.pool.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns[i] = c
			}
			if open := p.pool.Stats().OpenConnections; open != limit {
				t.Fatalf("%s pool: %d connections open while %d are held", p.name, open, limit)
			}
			for _, c := range conns {
				c.Close()
			}
			st := p.pool.Stats()
			if st.MaxIdleClosed != 0 || st.OpenConnections != limit {
				t.Errorf("%s pool: %d of %d connections closed when given back (%d still open), want all kept",
					p.name, st.MaxIdleClosed, limit, st.OpenConnections)
			}
		}
	})
}
