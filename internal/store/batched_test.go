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

// TestFirstStatementBatched: on PostgreSQL a write transaction's BEGIN,
// and the statements whose answer nobody waits for, go with the next
// statement in one round trip, whether that statement is a query of many
// rows, of one row or an exec; on both databases such a statement reads
// what it should, and a transaction that fails after it leaves nothing of
// it behind (it ran inside the transaction).
func TestFirstStatementBatched(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		now := time.UnixMilli(time.Now().UnixMilli())
		boom := errors.New("boom")

		// Each first statement, in a transaction that then fails.
		firsts := []struct {
			name string
			run  func(tx *store.Tx) error
		}{
			{"a query of many rows", func(tx *store.Tx) error {
				_, err := tx.ReserveAttempts(ctx, now, time.Hour, "a", "b")
				return err
			}},
			{"a query of one row", func(tx *store.Tx) error {
				_, err := tx.CountEvent(ctx, "a", now, time.Hour)
				return err
			}},
			{"an exec", func(tx *store.Tx) error { return tx.Lock(ctx, "c", now.Add(time.Hour)) }},
		}
		for _, f := range firsts {
			stop := store.RecordBatches()
			err := db.Write(ctx, func(tx *store.Tx) error {
				if err := f.run(tx); err != nil {
					return err
				}
				return boom
			})
			batches := stop()
			if !errors.Is(err, boom) {
				t.Fatalf("%s: %v, want boom", f.name, err)
			}
			if d == store.Postgres && (len(batches) != 1 || len(batches[0]) != 2 || batches[0][0] != "BEGIN[]") {
				t.Errorf("%s: sent %q, want one batch: BEGIN and the statement", f.name, batches)
			}
		}
		// Lock's row is made, so that a lock that was not rolled back
		// would show.
		if err := db.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.CountEvent(ctx, "c", now, time.Hour)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.Lock(ctx, "c", now.Add(time.Hour)); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}

		// Nothing of the failed transactions stayed: the counts start at
		// one, c is not locked; and what the batched statements read is
		// right, committed or not.
		var got []store.Attempt
		stop := store.RecordBatches()
		err := db.Write(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.ReserveAttempts(ctx, now, time.Hour, "a", "b", "c")
			if err != nil {
				return err
			}
			if err := tx.ReleaseAttempt(ctx, "b"); err != nil { // waits for the next statement
				return err
			}
			locks, err := tx.LockedUntilEach(ctx, "a", "b", "c")
			if err != nil {
				return err
			}
			if slices.ContainsFunc(locks, func(t time.Time) bool { return !t.IsZero() }) {
				t.Errorf("locked until %v: the rolled back Lock stayed", locks)
			}
			n, err := tx.CountEvent(ctx, "b", now, time.Hour)
			if err != nil {
				return err
			}
			if n != 1 {
				t.Errorf("b counted %d after a reserve and a release, want 1 (the release came first)", n)
			}
			return nil
		})
		batches := stop()
		if err != nil {
			t.Fatal(err)
		}
		want := []int{1, 1, 2} // c was counted once, committed
		if len(got) != 3 {
			t.Fatalf("%d attempts for 3 keys: %+v", len(got), got)
		}
		for i, a := range got {
			if a.N != want[i] || !a.Locked.IsZero() {
				t.Errorf("key %d: %d attempts, locked until %v; want %d, not locked", i, a.N, a.Locked, want[i])
			}
		}
		if d == store.Postgres {
			// BEGIN with the reserve; the release with the read of the
			// locks; the count, with nothing waiting, as any statement
			// (no batch); the COMMIT alone.
			if len(batches) != 3 || len(batches[0]) != 2 || len(batches[1]) != 2 || !strings.HasPrefix(batches[1][0], "UPDATE rate_limits SET events = events - 1") ||
				!slices.Equal(batches[2], []string{"COMMIT"}) {
				t.Errorf("sent %q, want BEGIN with the reserve, the release with the read of the locks, then COMMIT", batches)
			}
		}
	})
}
