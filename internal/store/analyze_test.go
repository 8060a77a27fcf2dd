package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeCheckpoints: after a bulk load, Analyze leaves SQLite's WAL
// empty, its pages written into the database file, so that a measurement
// made next does not share the disk with that write; reads made before
// through cached statements (stmtcache.go) do not hold it back.
func TestAnalyzeCheckpoints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *Tx) error {
		for i := range 2000 {
			if _, err := tx.exec(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, i, strings.Repeat("x", 200)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if walSize() == 0 {
		t.Fatal("the load left nothing in the WAL: the test proves nothing")
	}
	// Reads through the read pool's cached statements leave no read
	// transaction open behind them, which would keep the checkpoint from
	// emptying the WAL.
	for range 3 {
		var n int
		if err := db.queryRow(ctx, `SELECT count(*) FROM t WHERE k >= ?`, 0).Scan(&n); err != nil || n != 2000 {
			t.Fatalf("count = %d, %v; want 2000", n, err)
		}
		rs, err := db.query(ctx, `SELECT k FROM t ORDER BY k LIMIT 5`)
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
		}
		rs.Close()
	}
	if err := db.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	if n := walSize(); n != 0 {
		t.Errorf("WAL holds %d bytes after Analyze, want 0 (checkpointed)", n)
	}
}
