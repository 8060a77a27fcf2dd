package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// rowsOf is a store.RowSource over a slice.
type rowsOf struct {
	rows [][]any
	i    int
}

func (r *rowsOf) Next() bool             { r.i++; return r.i <= len(r.rows) }
func (r *rowsOf) Values() ([]any, error) { return r.rows[r.i-1], nil }
func (r *rowsOf) Err() error             { return nil }

func auditRows(n int, from int) [][]any {
	out := make([][]any, n)
	for i := range out {
		out[i] = []any{fmt.Sprintf("id-%06d", from+i), int64(1_700_000_000_000 + i), "admin", "Ann Admin",
			"org", portal.NilID, "Updated organization", "", "", "192.0.2.1", ""}
	}
	return out
}

func indexDefs(t *testing.T, db *store.DB, table string) map[string]string {
	t.Helper()
	defs, err := store.IndexDefs(context.Background(), db, table)
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

var auditBulkCols = []string{"id", "ts", "admin_id", "admin_name", "org_id", "site_id", "message", "before_json", "after_json", "src_ip", "api_token_name"}

// TestBulkInsert loads more rows than one SQLite transaction and one
// multi-row statement hold into a table stripped of its indexes, and
// checks that every row is in, that the indexes are back as the schema
// defines them (each announced once), and that the primary key refuses a
// duplicate again.
func TestBulkInsert(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		before := indexDefs(t, db, "audit_logs")
		const n = 100_000 + 777
		var built []string
		err := db.WithoutIndexes(ctx, "audit_logs", func() error {
			during, err := store.IndexDefs(ctx, db, "audit_logs")
			if err != nil {
				return err
			}
			for name, def := range during {
				if def != "" {
					t.Errorf("index %s is there during the load", name)
				}
			}
			got, err := db.BulkInsert(ctx, "audit_logs", auditBulkCols, &rowsOf{rows: auditRows(n, 0)})
			if got != n {
				t.Errorf("BulkInsert: %d rows, want %d", got, n)
			}
			return err
		}, func(name string, i, k int) { built = append(built, fmt.Sprintf("%s %d/%d", name, i+1, k)) })
		if err != nil {
			t.Fatal(err)
		}
		if c, err := db.CountRows(ctx, "audit_logs"); err != nil || c != n {
			t.Errorf("CountRows: %d, %v; want %d", c, err, n)
		}
		after := indexDefs(t, db, "audit_logs")
		if !maps.Equal(before, after) {
			t.Errorf("indexes after the load:\n%v\nwant\n%v", after, before)
		}
		var want []string
		for name, def := range before {
			if def != "" || d == store.Postgres {
				want = append(want, name)
			}
		}
		slices.Sort(want)
		for i := range want {
			want[i] = fmt.Sprintf("%s %d/%d", want[i], i+1, len(want))
		}
		if !slices.Equal(built, want) {
			t.Errorf("indexes built: %q, want %q", built, want)
		}
		e := &portal.AuditEntry{ID: "id-000007", Timestamp: time.Now(), AdminID: "admin", OrgID: portal.NilID, SiteID: portal.NilID, Message: "again"}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.InsertAudit(ctx, e) }); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("a duplicate id after the load: %v, want ErrDuplicate", err)
		}
	})
}

// TestBulkInsertRefused: a load with a duplicate id fails, on SQLite as
// it loads (the primary key stays), on PostgreSQL when the primary key is
// built again; either way the other indexes are built again. A table that
// others refer to keeps its primary key on PostgreSQL.
func TestBulkInsertRefused(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		before := indexDefs(t, db, "audit_logs")
		rows := append(auditRows(10, 0), auditRows(1, 3)...)
		err := db.WithoutIndexes(ctx, "audit_logs", func() error {
			_, err := db.BulkInsert(ctx, "audit_logs", auditBulkCols, &rowsOf{rows: rows})
			return err
		}, func(string, int, int) {})
		if err == nil {
			t.Fatal("a duplicate id in a load: no error")
		}
		after := indexDefs(t, db, "audit_logs")
		if d == store.Postgres {
			delete(before, "audit_logs_pkey")
		}
		if !maps.Equal(before, after) {
			t.Errorf("indexes after a failed load:\n%v\nwant\n%v", after, before)
		}
		if _, err := db.BulkInsert(ctx, "audit_logs", auditBulkCols, &rowsOf{rows: [][]any{{"short"}}}); err == nil {
			t.Error("a row of one value for eleven columns: no error")
		}

		var dropped []string
		err = db.WithoutIndexes(ctx, "users", func() error {
			during, err := store.IndexDefs(ctx, db, "users")
			for name := range during {
				dropped = append(dropped, name)
			}
			return err
		}, func(string, int, int) {})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(dropped, "users_pkey") && d == store.Postgres {
			t.Errorf("users lost its primary key during a load (others refer to it): %q", dropped)
		}
	})
}
