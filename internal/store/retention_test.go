package store_test

import (
	"context"
	"testing"
	"time"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestClaimLease: of two instances, one holds a background job's lease
// until it ends or is given back; the holder may renew it.
func TestClaimLease(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		claim := func(holder string, at time.Time) bool {
			t.Helper()
			ok, err := db.ClaimLease(ctx, "job", holder, at, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim("a", now) {
			t.Fatal("a could not take a free lease")
		}
		if claim("b", now.Add(59*time.Minute)) {
			t.Error("b took the lease a holds")
		}
		if !claim("a", now.Add(30*time.Minute)) {
			t.Error("a could not renew its lease")
		}
		if claim("b", now.Add(89*time.Minute)) {
			t.Error("b took the lease a renewed")
		}
		if !claim("b", now.Add(90*time.Minute)) {
			t.Error("b could not take the lease once it ended")
		}
		if err := db.ReleaseLease(ctx, "job", "a"); err != nil { // not a's any more: nothing happens
			t.Fatal(err)
		}
		if claim("a", now.Add(91*time.Minute)) {
			t.Error("a took the lease b holds after releasing its own old one")
		}
		if err := db.ReleaseLease(ctx, "job", "b"); err != nil {
			t.Fatal(err)
		}
		if !claim("a", now.Add(92*time.Minute)) {
			t.Error("a could not take the lease b gave back")
		}
	})
}
