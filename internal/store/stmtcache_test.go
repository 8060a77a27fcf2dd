package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openSQLite(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func cached(c *stmtCache, query string) bool {
	st, _ := c.lookup(query)
	return st != nil
}

// TestStmtCache: SQLite statements are prepared once and reused; in a
// transaction a cached statement runs on the transaction's connection (it
// sees the transaction's own writes, and the one write connection is not
// asked for twice); a statement first met in a transaction is prepared
// after it; a table made again under the statements is read right; bad SQL
// is an error, never cached; past the bound, queries still run.
func TestStmtCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := openSQLite(t)
	if err := db.Exec(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const (
		insert = `INSERT INTO t (k, v) VALUES (?, ?)`
		get    = `SELECT v FROM t WHERE k = ?`
	)
	write := func(k string, v int) {
		t.Helper()
		err := db.Write(ctx, func(tx *Tx) error {
			if _, err := tx.exec(ctx, insert, k, v); err != nil {
				return err
			}
			var got int
			if err := tx.queryRow(ctx, get, k).Scan(&got); err != nil || got != v {
				return fmt.Errorf("in the transaction, %s = %d, %v; want %d", k, got, err, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	write("a", 1) // first meeting: unprepared, then prepared after the transaction
	for _, q := range []string{insert, get} {
		if !cached(db.writeStmts, q) {
			t.Errorf("%q not prepared after the transaction that first ran it", q)
		}
		if cached(db.conn.stmts, q) {
			t.Errorf("%q in the read pool's cache before any read", q)
		}
	}
	write("b", 2) // cached statements, bound to the transaction

	var v int
	if err := db.queryRow(ctx, get, "b").Scan(&v); err != nil || v != 2 {
		t.Fatalf("read b = %d, %v; want 2", v, err)
	}
	if !cached(db.conn.stmts, get) {
		t.Errorf("%q not in the read pool's cache after a read", get)
	}

	// The table made again, with its columns in another order: SQLite
	// prepares the cached statements again by themselves.
	if err := db.Exec(ctx, `DROP TABLE t; CREATE TABLE t (v INTEGER NOT NULL, x TEXT, k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	write("c", 3)
	if err := db.queryRow(ctx, get, "c").Scan(&v); err != nil || v != 3 {
		t.Fatalf("after the table was made again, read c = %d, %v; want 3", v, err)
	}

	// Bad SQL: an error wherever it runs, and nothing cached.
	const bad = `SELEC v FROM t`
	if err := db.queryRow(ctx, bad).Scan(&v); err == nil {
		t.Error("bad SQL read: no error")
	}
	if rs, err := db.query(ctx, bad); err == nil {
		rs.Close()
		t.Error("bad SQL query: no error")
	}
	if err := db.Write(ctx, func(tx *Tx) error { _, err := tx.exec(ctx, bad); return err }); err == nil {
		t.Error("bad SQL in a transaction: no error")
	}
	if cached(db.conn.stmts, bad) || cached(db.writeStmts, bad) {
		t.Error("bad SQL cached")
	}

	// Past the bound, queries run unprepared and the cache stays at it.
	for i := range maxCachedStmts + 10 {
		var n int
		if err := db.queryRow(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d: %d, %v; want %d", i, n, err, i+1)
		}
	}
	if n := len(db.conn.stmts.m); n != maxCachedStmts {
		t.Errorf("read pool's cache holds %d statements, want the bound %d", n, maxCachedStmts)
	}
}

// BenchmarkStmtCache: a user read by email (every login's), with the
// statement cache and without it, on SQLite.
//
//	go test ./internal/store -run '^$' -bench StmtCache
func BenchmarkStmtCache(b *testing.B) {
	ctx := context.Background()
	db := openSQLite(b)
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	for name, c := range map[string]conn{"cached": db.conn, "uncached": {q: db.read, d: SQLite}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.GetUserByEmail(ctx, "nobody@example.com"); err == nil {
					b.Fatal("found nobody")
				}
			}
		})
	}
}
