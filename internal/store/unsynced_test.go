package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestWriteUnsynced: WriteUnsynced commits without waiting for the sync
// (SQLite: synchronous=NORMAL in its transaction, PostgreSQL:
// synchronous_commit off), and only there: Write before and after it, and
// after one that failed or panicked, still syncs (FULL, on). Its rows are
// committed like Write's, and a write from AfterCommit does not wait for
// the connection it took.
func TestWriteUnsynced(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		query, unsynced, synced := "PRAGMA synchronous", "1", "2"
		if d == store.Postgres {
			query, unsynced, synced = "SHOW synchronous_commit", "off", "on"
		}
		setting := func(tx *store.Tx) string {
			t.Helper()
			v, err := store.TxString(ctx, tx, query)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		wantSynced := func(when string) {
			t.Helper()
			if err := db.Write(ctx, func(tx *store.Tx) error {
				if got := setting(tx); got != synced {
					t.Errorf("Write %s: %s = %s, want %s", when, query, got, synced)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		wantSynced("first")

		now := time.Now()
		var after int
		err := db.WriteUnsynced(ctx, func(tx *store.Tx) error {
			if got := setting(tx); got != unsynced {
				t.Errorf("WriteUnsynced: %s = %s, want %s", query, got, unsynced)
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
