package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAfterCommit: a function registered with AfterCommit runs once the
// transaction has committed, so that what it wakes finds the transaction's
// rows; never when the transaction rolls back.
func TestAfterCommit(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		now := time.Now()
		var seen, ran int
		err := db.Write(ctx, func(tx *store.Tx) error {
			if _, _, err := tx.ReserveAttempt(ctx, "after-commit", now, time.Hour); err != nil {
				return err
			}
			tx.AfterCommit(func() {
				ran++
				// A second write sees the first's attempt: it was committed.
				// (Before the commit, SQLite's one writer would block here.)
				if err := db.Write(ctx, func(tx *store.Tx) (err error) {
					seen, _, err = tx.ReserveAttempt(ctx, "after-commit", now, time.Hour)
					return err
				}); err != nil {
					t.Errorf("write after commit: %v", err)
				}
			})
			return nil
		})
		if err != nil || ran != 1 || seen != 2 {
			t.Fatalf("after commit: err %v, ran %d times, attempts seen %d; want nil, 1, 2", err, ran, seen)
		}

		boom := errors.New("boom")
		err = db.Write(ctx, func(tx *store.Tx) error {
			tx.AfterCommit(func() { t.Error("ran after a rollback") })
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("rolled back write: %v", err)
		}
	})
}
