package storetest

import (
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkRegistration(t *testing.T, db *store.DB, email, hash string, created time.Time) *store.Registration {
	t.Helper()
	r := &store.Registration{ID: newID(), TokenHash: "tok-" + newID(), Email: email, FirstName: "F", LastName: "L",
		PasswordHash: hash, OrgName: "Org", Created: created, Expires: created.Add(24 * time.Hour)}
	write(t, db, func(tx *store.Tx) error { return tx.CreateRegistration(t.Context(), r) })
	return r
}

// testRegistrations: lookups by token and newest-by-address (case
// insensitive), renewal replaces the token, and using one sign-up closes
// every other pending sign-up of the address.
func testRegistrations(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := mkRegistration(t, db, "Pending@Example.com", "hash-a", t0)
	b := mkRegistration(t, db, "pending@example.com", "hash-b", t0.Add(time.Minute))
	mkRegistration(t, db, "other@example.com", "hash-c", t0.Add(2*time.Minute))

	got, err := db.GetRegistration(ctx, a.TokenHash)
	if err != nil || got.ID != a.ID || got.PasswordHash != "hash-a" || got.OrgName != "Org" || !got.Used.IsZero() {
		t.Fatalf("GetRegistration = %+v, %v", got, err)
	}
	wantTime(t, "expires", got.Expires, a.Expires)
	_, err = db.GetRegistration(ctx, "no-such-token")
	wantCode(t, "unknown token", err, portal.ENOTFOUND)

	latest, err := db.LatestRegistration(ctx, "PENDING@example.com")
	if err != nil || latest.ID != b.ID {
		t.Fatalf("LatestRegistration = %+v, %v; want the newer sign-up", latest, err)
	}

	write(t, db, func(tx *store.Tx) error { return tx.RenewRegistration(ctx, b.ID, "renewed", t0.Add(48*time.Hour)) })
	_, err = db.GetRegistration(ctx, b.TokenHash)
	wantCode(t, "old token after renewal", err, portal.ENOTFOUND)
	renewed, err := db.GetRegistration(ctx, "renewed")
	if err != nil || renewed.ID != b.ID {
		t.Fatalf("renewed token: %+v, %v", renewed, err)
	}
	wantTime(t, "renewed expiry", renewed.Expires, t0.Add(48*time.Hour))

	now := t0.Add(time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.UseRegistration(ctx, renewed, now) })
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UseRegistration(ctx, renewed, now) })
	if err != store.ErrTokenSpent {
		t.Errorf("second use: %v, want ErrTokenSpent", err)
	}
	// Closing the address voids its other sign-ups; another address's stay.
	write(t, db, func(tx *store.Tx) error { return tx.CloseRegistrations(ctx, "PENDING@example.com", now) })
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.UseRegistration(ctx, a, now) }); err != store.ErrTokenSpent {
		t.Errorf("sibling sign-up after close: %v, want ErrTokenSpent", err)
	}
	_, err = db.LatestRegistration(ctx, "pending@example.com")
	wantCode(t, "latest after use", err, portal.ENOTFOUND)
	if _, err := db.LatestRegistration(ctx, "other@example.com"); err != nil {
		t.Errorf("another address's sign-up was closed: %v", err)
	}

	// An expired sign-up cannot be used, but can still be found for renewal.
	old := mkRegistration(t, db, "late@example.com", "hash-l", t0)
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.UseRegistration(ctx, old, t0.Add(25*time.Hour)) }); err != store.ErrTokenSpent {
		t.Errorf("expired use: %v, want ErrTokenSpent", err)
	}
	if _, err := db.LatestRegistration(ctx, "late@example.com"); err != nil {
		t.Errorf("expired sign-up not found for renewal: %v", err)
	}
}
