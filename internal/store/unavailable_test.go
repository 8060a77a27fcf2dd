package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

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

// TestReadyWriteProbe: Ready fails while the database refuses writes (a
// read-only SQLite connection) and recovers at once when it takes them
// again; a successful probe stands for probeEvery, so a healthy database
// is written at most that often.
func TestReadyWriteProbe(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	db.probe.now = func() time.Time { return now }
	exec := func(q string) {
		if _, err := db.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	probed := func() int64 {
		var at int64
		if err := db.write.QueryRowContext(ctx, "SELECT at FROM health_probe WHERE id = 1").Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if probed() != now.UnixMilli() {
		t.Fatalf("probe row at %d, want %d", probed(), now.UnixMilli())
	}
	exec("PRAGMA query_only = 1")
	now = now.Add(probeEvery - time.Millisecond)
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready within probeEvery of a success (no probe): %v", err)
	}
	now = now.Add(time.Millisecond)
	err = db.Ready(ctx)
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Fatalf("Ready of a read-only database = %v, want EUNAVAILABLE", err)
	}
	if err := db.Ready(ctx); err == nil {
		t.Fatal("Ready succeeded again while the database is still read-only")
	}
	exec("PRAGMA query_only = 0")
	if err := db.Ready(ctx); err != nil {
		t.Fatalf("Ready once the database takes writes again: %v", err)
	}
	if probed() != now.UnixMilli() {
		t.Fatalf("probe row at %d, want %d", probed(), now.UnixMilli())
	}
}

// TestStoreBound: an operation that reaches the store's own bound is an
// outage (portal.EUNAVAILABLE), through the store's wrapping; a caller that
// gave up first, cancelled (a client that went away) or with a deadline of
// its own, keeps its error, which is not an outage.
func TestStoreBound(t *testing.T) {
	c := conn{timeout: time.Millisecond}
	ctx, cancel := c.bound(context.Background())
	defer cancel()
	<-ctx.Done()
	err := func() (err error) {
		defer wrap(&err, "Op")
		return timedOut(ctx, fmt.Errorf("query: %w", ctx.Err()))
	}()
	if !errors.Is(err, errTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("bound reached: %v, want errTimeout wrapping context.DeadlineExceeded", err)
	}
	if pe, ok := err.(*portal.Error); !ok || pe.Code != portal.EUNAVAILABLE {
		t.Errorf("bound reached: %#v, want portal.EUNAVAILABLE", err)
	}

	long := conn{timeout: time.Hour}
	parent, stop := context.WithCancel(context.Background())
	ctx, cancel = long.bound(parent)
	defer cancel()
	stop()
	err = func() (err error) {
		defer wrap(&err, "Op")
		return timedOut(ctx, fmt.Errorf("query: %w", ctx.Err()))
	}()
	if !errors.Is(err, context.Canceled) || errors.Is(err, errTimeout) || unavailable(err) {
		t.Errorf("caller cancelled: %v, want context.Canceled, not an outage", err)
	}

	parent, stop = context.WithTimeout(context.Background(), time.Millisecond)
	defer stop()
	ctx, cancel = long.bound(parent)
	defer cancel()
	<-ctx.Done()
	if err := timedOut(ctx, ctx.Err()); errors.Is(err, errTimeout) || unavailable(err) {
		t.Errorf("caller's own deadline: %v, want not an outage", err)
	}

	// Inside a transaction each statement gets the transaction's deadline.
	tx := conn{deadline: time.Now().Add(-time.Second), timeout: time.Hour}
	ctx, cancel = tx.bound(context.Background())
	defer cancel()
	if err := timedOut(ctx, ctx.Err()); !errors.Is(err, errTimeout) {
		t.Errorf("transaction deadline passed: %v, want errTimeout", err)
	}
}
