package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkToken(t *testing.T, db *store.DB, userID, purpose string, created time.Time, ttl time.Duration) *store.EmailToken {
	t.Helper()
	tok := &store.EmailToken{ID: newID(), TokenHash: "hash-" + newID(), UserID: userID, Purpose: purpose,
		Email: "new@example.com", Created: created, Expires: created.Add(ttl)}
	write(t, db, func(tx *store.Tx) error { return tx.CreateEmailToken(context.Background(), tok) })
	return tok
}

func testEmailTokenReplace(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "tok@example.com")
	other := mkUser(t, db, "tok2@example.com")
	a := mkToken(t, db, u.ID, "register", t0, time.Hour)
	got, err := db.GetEmailToken(ctx, a.TokenHash, "register")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("GetEmailToken = %+v\nwant %+v", got, a)
	}
	_, err = db.GetEmailToken(ctx, a.TokenHash, "change_email")
	wantCode(t, "GetEmailToken(other purpose)", err, portal.ENOTFOUND)
	_, err = db.GetEmailToken(ctx, "unknown", "register")
	wantCode(t, "GetEmailToken(unknown)", err, portal.ENOTFOUND)

	c := mkToken(t, db, u.ID, "change_email", t0, time.Hour)
	o := mkToken(t, db, other.ID, "register", t0, time.Hour)
	b := mkToken(t, db, u.ID, "register", t0.Add(time.Minute), time.Hour)
	_, err = db.GetEmailToken(ctx, a.TokenHash, "register")
	wantCode(t, "replaced token", err, portal.ENOTFOUND)
	for _, k := range []*store.EmailToken{b, c, o} {
		if _, err := db.GetEmailToken(ctx, k.TokenHash, k.Purpose); err != nil {
			t.Fatalf("token %s/%s after replacing the user's register token: %v", k.UserID, k.Purpose, err)
		}
	}
	// A used token is history, not pending: a new one does not remove it.
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, b.ID, t0.Add(2*time.Minute)) })
	d := mkToken(t, db, u.ID, "register", t0.Add(3*time.Minute), time.Hour)
	if got, err := db.GetEmailToken(ctx, b.TokenHash, "register"); err != nil || got.Used.IsZero() {
		t.Fatalf("used token after a new one: %+v, %v", got, err)
	}
	if _, err := db.GetEmailToken(ctx, d.TokenHash, "register"); err != nil {
		t.Fatal(err)
	}

	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateEmailToken(ctx, &store.EmailToken{ID: newID(), TokenHash: o.TokenHash, UserID: u.ID, Purpose: "x", Email: "e", Created: t0, Expires: t0})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateEmailToken with a taken hash: %v, want ErrDuplicate", err)
	}
}

func testUseEmailToken(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "use@example.com")
	tok := mkToken(t, db, u.ID, "register", t0, time.Hour)
	used := t0.Add(time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, tok.ID, used) })
	got, err := db.GetEmailToken(ctx, tok.TokenHash, "register")
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "Used", got.Used, used)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, tok.ID, used.Add(time.Second)) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("second UseEmailToken: %v, want ErrTokenSpent", err)
	}
	if got, _ := db.GetEmailToken(ctx, tok.TokenHash, "register"); !got.Used.Equal(used) {
		t.Fatalf("second use moved Used to %v", got.Used)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, newID(), used) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("UseEmailToken(unknown): %v, want ErrTokenSpent", err)
	}
}

func testUseEmailTokenExpiry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "expiry@example.com")
	a := mkToken(t, db, u.ID, "register", t0, time.Hour)
	err := db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, a.ID, a.Expires) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("UseEmailToken at the expiry instant: %v, want ErrTokenSpent", err)
	}
	if got, _ := db.GetEmailToken(ctx, a.TokenHash, "register"); !got.Used.IsZero() {
		t.Fatal("an expired use marked the token used")
	}
	b := mkToken(t, db, u.ID, "change_email", t0, time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, b.ID, b.Expires.Add(-time.Millisecond)) })
}

func testUseEmailTokenConcurrent(t *testing.T, db *store.DB) {
	u := mkUser(t, db, "race@example.com")
	tok := mkToken(t, db, u.ID, "register", t0, time.Hour)
	exactlyOneWins(t, db, 8, store.ErrTokenSpent, "uses of one token", func(ctx context.Context, tx *store.Tx) error {
		return tx.UseEmailToken(ctx, tok.ID, t0.Add(time.Minute))
	})
}

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
