package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkAPIToken(t *testing.T, db *store.DB, userID, name, hash string, created time.Time) *store.APIToken {
	t.Helper()
	tok := &store.APIToken{ID: newID(), UserID: userID, Name: name, KeyHash: hash, Created: created}
	write(t, db, func(tx *store.Tx) error { return tx.CreateAPIToken(context.Background(), tok) })
	return tok
}

// testAPITokens: tokens are found by key hash and, through their user
// only, by id; listed oldest first; renamed and deleted only through their
// own user; the key hash is unique, and so is a name among a user's tokens
// (case aside); last use is recorded at most once per interval; deleting
// the user deletes the tokens.
func testAPITokens(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "tokens@example.com")
	other := mkUser(t, db, "other.tokens@example.com")

	first := mkAPIToken(t, db, u.ID, "ci", "hash-1", t0)
	second := mkAPIToken(t, db, u.ID, "backup", "hash-2", t0.Add(time.Minute))
	foreign := mkAPIToken(t, db, other.ID, "theirs", "hash-3", t0)

	got, err := db.GetAPITokenByKeyHash(ctx, "hash-2")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != second.ID || got.UserID != u.ID || got.Name != "backup" || got.KeyHash != "hash-2" || !got.LastUsed.IsZero() {
		t.Errorf("by hash = %+v", got)
	}
	wantTime(t, "created", got.Created, t0.Add(time.Minute))
	_, err = db.GetAPITokenByKeyHash(ctx, "nope")
	wantCode(t, "unknown hash", err, portal.ENOTFOUND)

	if _, err := db.GetUserAPIToken(ctx, u.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetUserAPIToken(ctx, u.ID, foreign.ID)
	wantCode(t, "another user's token", err, portal.ENOTFOUND)

	list, err := db.ListUserAPITokens(ctx, u.ID)
	if err != nil || len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
		t.Fatalf("list = %v, %v", list, err)
	}
	if n, err := db.CountUserAPITokens(ctx, u.ID); err != nil || n != 2 {
		t.Errorf("count = %d, %v", n, err)
	}

	// The key hash is unique.
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateAPIToken(ctx, &store.APIToken{ID: newID(), UserID: other.ID, Name: "dup", KeyHash: "hash-1", Created: t0})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("duplicate hash: %v", err)
	}
	// So is a name among a user's tokens, case aside; another user may
	// have it.
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateAPIToken(ctx, &store.APIToken{ID: newID(), UserID: u.ID, Name: "CI", KeyHash: "hash-9", Created: t0})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a second token named ci (CI): %v", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.RenameAPIToken(ctx, u.ID, second.ID, "Ci") })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("renaming backup to Ci: %v", err)
	}
	third := mkUser(t, db, "third.tokens@example.com")
	mkAPIToken(t, db, third.ID, "ci", "hash-10", t0)

	// Rename and delete work through the owner only.
	write(t, db, func(tx *store.Tx) error { return tx.RenameAPIToken(ctx, u.ID, first.ID, "deploy") })
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.RenameAPIToken(ctx, u.ID, foreign.ID, "mine") })
	wantCode(t, "rename another user's token", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, u.ID, foreign.ID) })
	wantCode(t, "delete another user's token", err, portal.ENOTFOUND)
	if got, _ := db.GetUserAPIToken(ctx, u.ID, first.ID); got == nil || got.Name != "deploy" {
		t.Errorf("renamed = %+v", got)
	}
	if got, _ := db.GetUserAPIToken(ctx, other.ID, foreign.ID); got == nil || got.Name != "theirs" {
		t.Errorf("foreign token changed: %+v", got)
	}

	// Last use: recorded, then not again within the interval.
	touch := func(now time.Time) bool {
		var ok bool
		write(t, db, func(tx *store.Tx) (err error) {
			ok, err = tx.TouchAPIToken(ctx, first.ID, now, time.Minute)
			return err
		})
		return ok
	}
	if !touch(t0.Add(time.Hour)) {
		t.Error("first use not recorded")
	}
	if touch(t0.Add(time.Hour + 59*time.Second)) {
		t.Error("use recorded twice within a minute")
	}
	if !touch(t0.Add(time.Hour + time.Minute)) {
		t.Error("use a minute later not recorded")
	}
	got, _ = db.GetUserAPIToken(ctx, u.ID, first.ID)
	wantTime(t, "last used", got.LastUsed, t0.Add(time.Hour+time.Minute))

	write(t, db, func(tx *store.Tx) error { return tx.DeleteAPIToken(ctx, u.ID, second.ID) })
	_, err = db.GetAPITokenByKeyHash(ctx, "hash-2")
	wantCode(t, "deleted token", err, portal.ENOTFOUND)

	// Deleting every token of a user leaves the others'.
	mkAPIToken(t, db, u.ID, "third", "hash-4", t0)
	var n int64
	write(t, db, func(tx *store.Tx) (err error) { n, err = tx.DeleteUserAPITokens(ctx, u.ID); return err })
	if n != 2 {
		t.Errorf("DeleteUserAPITokens = %d, want 2", n)
	}
	if list, _ := db.ListUserAPITokens(ctx, u.ID); len(list) != 0 {
		t.Errorf("tokens left: %v", list)
	}

	// Deleting the user deletes their tokens.
	if err := db.Exec(ctx, "DELETE FROM users WHERE id = '"+other.ID+"'"); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetAPITokenByKeyHash(ctx, "hash-3")
	wantCode(t, "token of a deleted user", err, portal.ENOTFOUND)
}
