package storetest

import (
	"context"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

// testEmailChangeTokens covers the queries of the e-mail change: adding a
// token without replacing, the newest pending token, and deleting a
// user's unused tokens of a purpose after a time.
func testEmailChangeTokens(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "change@example.com")
	other := mkUser(t, db, "change2@example.com")
	add := func(userID, purpose string, created time.Time, ttl time.Duration) *store.EmailToken {
		t.Helper()
		tok := &store.EmailToken{ID: newID(), TokenHash: "hash-" + newID(), UserID: userID, Purpose: purpose,
			Email: purpose + "@example.com", Created: created, Expires: created.Add(ttl)}
		write(t, db, func(tx *store.Tx) error { return tx.AddEmailToken(ctx, tok) })
		return tok
	}
	exists := func(tok *store.EmailToken) bool {
		t.Helper()
		_, err := db.GetEmailToken(ctx, tok.TokenHash, tok.Purpose)
		if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	}

	_, err := db.PendingEmailToken(ctx, u.ID, "email_revert", t0)
	wantCode(t, "PendingEmailToken(none)", err, portal.ENOTFOUND)

	// AddEmailToken keeps the others.
	r1 := add(u.ID, "email_revert", t0, time.Hour)
	r2 := add(u.ID, "email_revert", t0.Add(time.Minute), time.Hour)
	r3 := add(u.ID, "email_revert", t0.Add(2*time.Minute), time.Hour)
	o := add(other.ID, "email_revert", t0.Add(3*time.Minute), time.Hour)
	c := add(u.ID, "email_change", t0.Add(3*time.Minute), time.Hour)
	for _, tok := range []*store.EmailToken{r1, r2, r3, o, c} {
		if !exists(tok) {
			t.Fatalf("token created at %v is gone after AddEmailToken", tok.Created)
		}
	}

	// PendingEmailToken: the newest unused, unexpired one of the user and purpose.
	got, err := db.PendingEmailToken(ctx, u.ID, "email_revert", t0.Add(5*time.Minute))
	if err != nil || got.ID != r3.ID || got.Email != r3.Email {
		t.Fatalf("PendingEmailToken = %+v, %v; want r3", got, err)
	}
	wantTime(t, "Expires", got.Expires, r3.Expires)
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, r3.ID, t0.Add(5*time.Minute)) })
	if got, err := db.PendingEmailToken(ctx, u.ID, "email_revert", t0.Add(5*time.Minute)); err != nil || got.ID != r2.ID {
		t.Fatalf("PendingEmailToken after using r3 = %+v, %v; want r2", got, err)
	}
	_, err = db.PendingEmailToken(ctx, u.ID, "email_revert", r2.Expires)
	wantCode(t, "PendingEmailToken(all expired)", err, portal.ENOTFOUND)

	// DeleteEmailTokens after r1, except r1: r2 goes, r1, the used r3,
	// the other purpose and the other user stay.
	var n int64
	write(t, db, func(tx *store.Tx) (err error) {
		n, err = tx.DeleteEmailTokens(ctx, u.ID, "email_revert", r1.Created, r1.ID)
		return err
	})
	if n != 1 || exists(r2) || !exists(r1) || !exists(r3) || !exists(o) || !exists(c) {
		t.Fatalf("DeleteEmailTokens after r1 removed %d; r1 %v r2 %v r3 %v other %v change %v", n, exists(r1), exists(r2), exists(r3), exists(o), exists(c))
	}
	// From the zero time: every unused one of the purpose.
	write(t, db, func(tx *store.Tx) (err error) {
		n, err = tx.DeleteEmailTokens(ctx, u.ID, "email_change", time.Time{}, "")
		return err
	})
	if n != 1 || exists(c) || !exists(r1) {
		t.Fatalf("DeleteEmailTokens(zero) removed %d; change %v r1 %v", n, exists(c), exists(r1))
	}
}
