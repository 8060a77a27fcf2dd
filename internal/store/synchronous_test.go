package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSQLiteSynchronousFull: SQLite runs with synchronous=FULL (2), on the
// write pool and the read pool, so acknowledged writes survive an OS crash
// or a power loss.
func TestSQLiteSynchronousFull(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, pool := range map[string]*sql.DB{"write": db.write, "read": db.read} {
		var mode int
		if err := pool.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != 2 {
			t.Errorf("%s pool: synchronous = %d, want 2 (FULL)", name, mode)
		}
		var journal string
		if err := pool.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil || journal != "wal" {
			t.Errorf("%s pool: journal_mode = %q, %v; want wal", name, journal, err)
		}
	}
}

// BenchmarkSQLiteSynchronous measures what FULL costs over NORMAL: one
// small write transaction (the upsert of /readyz's probe row) per
// iteration, committed on a file in the temporary directory (put it on the
// disk you mean: TMPDIR=/var/lib/… go test …). README's figures come from
//
//	go test ./internal/store -run '^$' -bench SQLiteSynchronous -benchtime 2000x
func BenchmarkSQLiteSynchronous(b *testing.B) {
	for _, mode := range []string{"NORMAL", "FULL"} {
		b.Run(mode, func(b *testing.B) {
			saved := sqliteSynchronous
			sqliteSynchronous = mode
			defer func() { sqliteSynchronous = saved }()
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "portal.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				err := db.Write(ctx, func(tx *Tx) error {
					_, err := tx.exec(ctx, "INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at", i)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}
