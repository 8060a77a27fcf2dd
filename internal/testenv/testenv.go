// Package testenv builds real test environments: a database of each
// dialect (SQLite always, PostgreSQL when PORTAL_TEST_POSTGRES_URL is set),
// an in-process SMTP server, and the whole Portal stack behind httptest.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"portal/internal/store"
)

// Dialects lists the databases to test: SQLite always, PostgreSQL when
// PORTAL_TEST_POSTGRES_URL is set. With PORTAL_TEST_REQUIRE_POSTGRES=1 a
// missing URL fails the test instead of skipping PostgreSQL.
func Dialects(t testing.TB) []store.Dialect {
	d := []store.Dialect{store.SQLite}
	if os.Getenv("PORTAL_TEST_POSTGRES_URL") != "" {
		d = append(d, store.Postgres)
	} else if os.Getenv("PORTAL_TEST_REQUIRE_POSTGRES") == "1" {
		t.Fatal("PORTAL_TEST_REQUIRE_POSTGRES=1 but PORTAL_TEST_POSTGRES_URL is not set")
	} else {
		t.Log("PostgreSQL tests skipped: set PORTAL_TEST_POSTGRES_URL to run them")
	}
	return d
}

// ForEachDialect runs fn as a subtest per dialect.
func ForEachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// OpenDB opens a fresh, migrated database of dialect d for this test only:
// a new SQLite file, or a new PostgreSQL schema dropped at cleanup.
func OpenDB(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	return OpenDBs(t, d, 1)[0]
}

// OpenDBs opens n handles on one fresh, migrated database of dialect d, as
// n instances of Portal (or an instance and a `portal` command) have:
// each its own pools, and nothing shared but the database.
func OpenDBs(t testing.TB, d store.Dialect, n int) []*store.DB {
	t.Helper()
	ctx := context.Background()
	var dsn string
	switch d {
	case store.SQLite:
		dsn = filepath.Join(t.TempDir(), "portal.db")
	case store.Postgres:
		dsn = postgresSchema(t)
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open %s: %v", d, err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate %s: %v", d, err)
			}
		}
		dbs[i] = db
	}
	return dbs
}

// PostgresURL returns the URL of a new empty schema (dropped at cleanup),
// for tests that open the database themselves.
func PostgresURL(t testing.TB) string { return postgresSchema(t) }

var admin struct {
	once sync.Once
	db   *store.DB
	err  error
}

func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("PORTAL_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("PORTAL_TEST_POSTGRES_URL is not set")
	}
	admin.once.Do(func() { admin.db, admin.err = store.Open(context.Background(), base) })
	if admin.err != nil {
		t.Fatalf("connect to PostgreSQL at PORTAL_TEST_POSTGRES_URL: %v", admin.err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if err := admin.db.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.db.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("PORTAL_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Clock is a settable clock for exact expiry tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *Clock) String() string { return fmt.Sprint(c.Now()) }
