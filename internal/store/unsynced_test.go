package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestWriteUnsynced: WriteUnsynced commits without waiting for the sync,
// and only it: on SQLite with synchronous=NORMAL in its transaction, and
// FULL again for Write before and after it, and after one that failed or
// panicked; on PostgreSQL with SET LOCAL synchronous_commit = off sent
// with its COMMIT, which Write's COMMIT goes without (a transaction of one
// statement whose answer nobody waits for is one round trip: BEGIN, the
// statement, COMMIT). Its rows are
// committed like Write's, and a write from AfterCommit does not wait for
// the connection it took.
func TestWriteUnsynced(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		setting := func(tx *store.Tx) string {
			t.Helper()
			if d == store.Postgres {
				return "" // it goes with the commit (commitBatch)
			}
			v, err := store.TxString(ctx, tx, "PRAGMA synchronous")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		// commitBatch runs one write of key's attempt and returns the
		// batch its COMMIT went in (PostgreSQL).
		commitBatch := func(write func(context.Context, func(*store.Tx) error) error, key string) []string {
			t.Helper()
			stop := store.RecordBatches()
			err := write(ctx, func(tx *store.Tx) error { return tx.ReleaseAttempt(ctx, key) })
			batches := stop()
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range batches {
				if slices.ContainsFunc(b, func(s string) bool { return strings.Contains(s, key) }) {
					return b
				}
			}
			t.Fatalf("no batch sent %s's statement", key)
			return nil
		}
		wantSynced := func(when string) {
			t.Helper()
			if d == store.Postgres {
				if b := commitBatch(db.Write, "synced-"+when); len(b) != 3 || b[0] != "BEGIN[]" || b[2] != "COMMIT" {
					t.Errorf("Write %s sent %q, want BEGIN, its statement, COMMIT", when, b)
				}
				return
			}
			if err := db.Write(ctx, func(tx *store.Tx) error {
				if got := setting(tx); got != "2" {
					t.Errorf("Write %s: synchronous = %s, want 2 (FULL)", when, got)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		wantSynced("first")
		if d == store.Postgres {
			b := commitBatch(db.WriteUnsynced, "unsynced-batch")
			if len(b) != 4 || b[0] != "BEGIN[]" || b[2] != "SET LOCAL synchronous_commit = off[]" || b[3] != "COMMIT" {
				t.Errorf("WriteUnsynced sent %q, want BEGIN, its statement, SET LOCAL synchronous_commit = off, COMMIT", b)
			}
		}

		now := time.Now()
		var after int
		err := db.WriteUnsynced(ctx, func(tx *store.Tx) error {
			if got := setting(tx); d == store.SQLite && got != "1" {
				t.Errorf("WriteUnsynced: synchronous = %s, want 1 (NORMAL)", got)
			}
			tx.AfterCommit(func() {
				short, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if err := db.Write(short, func(tx *store.Tx) (err error) {
					after, _, err = tx.ReserveAttempt(short, "unsynced", now, time.Hour)
					return err
				}); err != nil {
					t.Errorf("write after an unsynced commit: %v", err)
				}
			})
			_, _, err := tx.ReserveAttempt(ctx, "unsynced", now, time.Hour)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if after != 2 {
			t.Errorf("the write after the unsynced one counted %d attempts, want 2 (the unsynced one committed)", after)
		}
		wantSynced("after WriteUnsynced")

		boom := errors.New("boom")
		if err := db.WriteUnsynced(ctx, func(tx *store.Tx) error {
			if _, _, err := tx.ReserveAttempt(ctx, "unsynced", now, time.Hour); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("WriteUnsynced returned %v, want boom", err)
		}
		wantSynced("after a failed WriteUnsynced")
		func() {
			defer func() { _ = recover() }()
			_ = db.WriteUnsynced(ctx, func(tx *store.Tx) error { panic("boom") })
		}()
		wantSynced("after a WriteUnsynced that panicked")
		if err := db.WriteUnsynced(ctx, func(tx *store.Tx) (err error) {
			after, _, err = tx.ReserveAttempt(ctx, "unsynced", now, time.Hour)
			return err
		}); err != nil || after != 3 {
			t.Fatalf("after the failed ones: %d attempts, %v; want 3 (they rolled back)", after, err)
		}
	})
}
