package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"

	"portal"
	"portal/internal/derrors"
)

// TestUnavailable classifies real driver errors: a PostgreSQL that refuses
// connections, a SQLite database that is read-only or full, and errors that
// are not outages (a duplicate, no rows, a syntax error). The
// classification survives the store's and the service's wrapping.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()

	// A closed port: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pg, err := sql.Open("pgx", "postgres://postgres@"+addr+"/none?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	refused := pg.PingContext(ctx)
	if refused == nil {
		t.Fatal("ping of a closed port succeeded")
	}

	db, err := Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) error { _, err := db.write.ExecContext(ctx, q); return err }
	if err := exec("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)"); err != nil {
		t.Fatal(err)
	}
	duplicate := mapErr(func() error {
		_ = exec("INSERT INTO t (id) VALUES (1)")
		return exec("INSERT INTO t (id) VALUES (1)")
	}())
	syntax := exec("SELEC 1")
	if err := exec("PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	readOnly := exec("INSERT INTO t (id) VALUES (2)")
	if err := exec("PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := db.write.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	full := exec("INSERT INTO t (id, b) VALUES (3, zeroblob(1000000))")

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"PostgreSQL refused", refused, true},
		{"SQLite read-only", readOnly, true},
		{"SQLite full", full, true},
		{"duplicate", duplicate, false},
		{"syntax error", syntax, false},
		{"no rows", sql.ErrNoRows, false},
		{"database closed", sql.ErrConnDone, false},
		{"canceled", context.Canceled, false},
	} {
		if c.want && c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := unavailable(c.err); got != c.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
		// As a store method and then the service return it.
		err := c.err
		func() { defer wrap(&err, "GetUser(%s)", "u1") }()
		derrors.Wrap(&err, nil, "app: Login")
		err = fmt.Errorf("handler: %w", err)
		want := portal.EINTERNAL
		if c.want {
			want = portal.EUNAVAILABLE
		}
		if got := portal.ErrorCode(err); got != want {
			t.Errorf("%s: code after wrapping = %q, want %q", c.name, got, want)
		}
		if c.want && !errors.Is(err, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, err)
		}
	}
}
