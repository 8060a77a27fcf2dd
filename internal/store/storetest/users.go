package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func testUserCreateGet(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "Ada.Lovelace@Example.COM")
	got, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, u) {
		t.Fatalf("GetUser = %+v\nwant %+v", got, u)
	}
	for _, e := range []string{"ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", u.Email} {
		got, err := db.GetUserByEmail(ctx, e)
		if err != nil {
			t.Fatalf("GetUserByEmail(%q): %v", e, err)
		}
		if got.ID != u.ID || got.Email != u.Email {
			t.Fatalf("GetUserByEmail(%q) = %s %s, want %s %s (the address as typed at sign-up)", e, got.ID, got.Email, u.ID, u.Email)
		}
	}
	v := &portal.User{ID: newID(), Email: "verified@example.com", PasswordHash: "h", EmailVerified: true,
		PasswordModifiedTime: t0, CreatedTime: t0.Add(time.Millisecond), ModifiedTime: t0.Add(2 * time.Millisecond)}
	write(t, db, func(tx *store.Tx) error { return tx.CreateUser(ctx, v) })
	got, err = db.GetUser(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("GetUser = %+v\nwant %+v", got, v)
	}
}

func testUserDuplicateEmail(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "dup@example.com")
	for _, e := range []string{"dup@example.com", "DUP@Example.com"} {
		err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateUser(ctx, &portal.User{ID: newID(), Email: e, PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0})
		})
		if !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("CreateUser(%q) with %q taken: %v, want ErrDuplicate", e, u.Email, err)
		}
	}
	err := db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateUser(ctx, &portal.User{ID: u.ID, Email: "other@example.com", PasswordHash: "h"})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateUser with a taken id: %v, want ErrDuplicate", err)
	}
	// The refused rows left nothing behind.
	if _, err := db.GetUserByEmail(ctx, "other@example.com"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("refused user was stored: %v", err)
	}
}

// testUserDuplicateKeepsTx: a transaction that handles ErrDuplicate from
// CreateUser (a sign-up racing another for the same address) can still
// write and commit, on every dialect.
func testUserDuplicateKeepsTx(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mkUser(t, db, "race@example.com")
	before := &portal.Org{ID: newID(), Name: "before", SessionExpiry: 60, CreatedTime: t0, ModifiedTime: t0}
	after := &portal.Org{ID: newID(), Name: "after", SessionExpiry: 60, CreatedTime: t0, ModifiedTime: t0}
	loser := &portal.User{ID: newID(), Email: "Race@Example.com", PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0}
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateOrg(ctx, before); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, loser); !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("CreateUser with a taken e-mail: %v, want ErrDuplicate", err)
		}
		if _, err := tx.GetUserByEmail(ctx, "race@example.com"); err != nil {
			return fmt.Errorf("read after ErrDuplicate: %w", err)
		}
		return tx.CreateOrg(ctx, after)
	})
	if err != nil {
		t.Fatalf("transaction that handled ErrDuplicate: %v", err)
	}
	for _, o := range []*portal.Org{before, after} {
		if _, err := db.GetOrg(ctx, o.ID); err != nil {
			t.Errorf("organization %q written in that transaction: %v", o.Name, err)
		}
	}
	_, err = db.GetUser(ctx, loser.ID)
	wantCode(t, "refused user", err, portal.ENOTFOUND)
}

func testUserNotFound(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mkUser(t, db, "someone@example.com")
	_, err := db.GetUser(ctx, newID())
	wantCode(t, "GetUser(unknown)", err, portal.ENOTFOUND)
	_, err = db.GetUserByEmail(ctx, "nobody@example.com")
	wantCode(t, "GetUserByEmail(unknown)", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.SetEmailVerified(ctx, newID(), t0) })
	wantCode(t, "SetEmailVerified(unknown)", err, portal.ENOTFOUND)
	for _, changed := range []bool{true, false} {
		err = db.Write(ctx, func(tx *store.Tx) error { return tx.SetPasswordHash(ctx, newID(), "h", changed, t0) })
		wantCode(t, fmt.Sprintf("SetPasswordHash(unknown, changed=%v)", changed), err, portal.ENOTFOUND)
	}
}

func testSetEmailVerified(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "verify@example.com")
	other := mkUser(t, db, "other@example.com")
	t1 := t0.Add(time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.SetEmailVerified(ctx, u.ID, t1) })
	got, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EmailVerified {
		t.Error("EmailVerified = false after SetEmailVerified")
	}
	wantTime(t, "ModifiedTime", got.ModifiedTime, t1)
	wantTime(t, "PasswordModifiedTime", got.PasswordModifiedTime, t0)
	// Idempotent.
	write(t, db, func(tx *store.Tx) error { return tx.SetEmailVerified(ctx, u.ID, t1) })
	if got, _ := db.GetUser(ctx, other.ID); got.EmailVerified {
		t.Error("SetEmailVerified changed another user")
	}
}

func testSetPasswordHash(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "pw@example.com")
	// A rehash (same password, new parameters) keeps the times.
	t1 := t0.Add(time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.SetPasswordHash(ctx, u.ID, "rehashed", false, t1) })
	got, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "rehashed" {
		t.Errorf("PasswordHash = %q, want rehashed", got.PasswordHash)
	}
	wantTime(t, "PasswordModifiedTime after rehash", got.PasswordModifiedTime, t0)
	wantTime(t, "ModifiedTime after rehash", got.ModifiedTime, t0)
	// A changed password moves both times.
	t2 := t0.Add(2 * time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.SetPasswordHash(ctx, u.ID, "changed", true, t2) })
	if got, err = db.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "changed" {
		t.Errorf("PasswordHash = %q, want changed", got.PasswordHash)
	}
	wantTime(t, "PasswordModifiedTime after change", got.PasswordModifiedTime, t2)
	wantTime(t, "ModifiedTime after change", got.ModifiedTime, t2)
}

// testPasswordHistory: a change keeps the replaced hash in the history,
// newest first, trimmed to the newest entries asked for, even when the
// clock stands still; a change checked against a hash that is no longer
// stored fails and changes nothing; the reset flag is cleared.
func testPasswordHistory(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "history@example.com")
	other := mkUser(t, db, "other.history@example.com")
	u.PasswordResetRequired = true
	write(t, db, func(tx *store.Tx) error { return tx.UpdateUser(ctx, u) })

	hashes := []string{u.PasswordHash}
	for i := 1; i <= 5; i++ {
		h := fmt.Sprintf("hash-%d", i)
		write(t, db, func(tx *store.Tx) error {
			return tx.ChangePassword(ctx, u.ID, hashes[len(hashes)-1], h, t0.Add(time.Minute), newID(), 3)
		})
		hashes = append(hashes, h)
	}
	write(t, db, func(tx *store.Tx) error {
		return tx.ChangePassword(ctx, other.ID, other.PasswordHash, "other-1", t0, newID(), 3)
	})
	got, err := db.PasswordHistory(ctx, u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"hash-4", "hash-3", "hash-2"}; !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v (newest first, 3 kept)", got, want)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 1); !slices.Equal(got, []string{"hash-4"}) {
		t.Errorf("history limited to 1 = %v", got)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 0); len(got) != 0 {
		t.Errorf("history limited to 0 = %v", got)
	}
	cur, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.PasswordHash != "hash-5" || cur.PasswordResetRequired || !cur.PasswordModifiedTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("user after the changes: hash %q, reset %v, modified %v", cur.PasswordHash, cur.PasswordResetRequired, cur.PasswordModifiedTime)
	}

	// A stale check: nothing changes, the history included.
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.ChangePassword(ctx, u.ID, "hash-4", "hash-6", t0.Add(time.Hour), newID(), 3)
	})
	if !errors.Is(err, store.ErrPasswordChanged) {
		t.Errorf("stale change: %v, want ErrPasswordChanged", err)
	}
	if cur, _ := db.GetUser(ctx, u.ID); cur.PasswordHash != "hash-5" {
		t.Errorf("a stale change replaced the hash: %q", cur.PasswordHash)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 10); len(got) != 3 || got[0] != "hash-4" {
		t.Errorf("history after a stale change = %v", got)
	}
	if got, _ := db.PasswordHistory(ctx, other.ID, 10); !slices.Equal(got, []string{other.PasswordHash}) {
		t.Errorf("other user's history = %v", got)
	}
}

// testSetPasswordHashIf: the hash is replaced only while it is still the
// one the caller checked; the password's time does not move; a stale or
// unknown user gets ErrPasswordChanged and nothing is written.
func testSetPasswordHashIf(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "pwif@example.com")
	hash := func() string {
		t.Helper()
		got, err := db.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantTime(t, "PasswordModifiedTime", got.PasswordModifiedTime, t0)
		return got.PasswordHash
	}
	set := func(old, h string) error {
		return db.Write(ctx, func(tx *store.Tx) error { return tx.SetPasswordHashIf(ctx, u.ID, old, h) })
	}
	// The same hash: nothing changes, but the check passes.
	if err := set(u.PasswordHash, u.PasswordHash); err != nil {
		t.Fatalf("SetPasswordHashIf(current, current) = %v", err)
	}
	if got := hash(); got != u.PasswordHash {
		t.Fatalf("hash = %q after a no-op, want %q", got, u.PasswordHash)
	}
	// A rehash of the current hash is written.
	if err := set(u.PasswordHash, "rehashed"); err != nil {
		t.Fatalf("SetPasswordHashIf(current, rehashed) = %v", err)
	}
	if got := hash(); got != "rehashed" {
		t.Fatalf("hash = %q, want rehashed", got)
	}
	// A stale old hash (changed meanwhile) is refused, without writing.
	for _, h := range []string{"other", u.PasswordHash} {
		if err := set(u.PasswordHash, h); !errors.Is(err, store.ErrPasswordChanged) {
			t.Fatalf("SetPasswordHashIf(stale, %q) = %v, want ErrPasswordChanged", h, err)
		}
	}
	if got := hash(); got != "rehashed" {
		t.Fatalf("hash = %q after refused updates, want rehashed", got)
	}
	// An unknown user is refused the same way.
	err := db.Write(ctx, func(tx *store.Tx) error { return tx.SetPasswordHashIf(ctx, newID(), "rehashed", "x") })
	if !errors.Is(err, store.ErrPasswordChanged) {
		t.Fatalf("SetPasswordHashIf(unknown user) = %v, want ErrPasswordChanged", err)
	}
}

// testSessionTermsIf: the terms of a user's new session (the shortest idle
// expiry and maximum lifetime of the user's organizations, or the
// defaults; a verified second factor) are read only while the stored hash
// is still the one given; a stale hash or an unknown user gets
// ErrPasswordChanged.
func testSessionTermsIf(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "terms@example.com")
	terms := func(hash string) (store.SessionTerms, error) {
		var st store.SessionTerms
		err := db.Write(ctx, func(tx *store.Tx) (err error) {
			st, err = tx.SessionTermsIf(ctx, u.ID, hash, 1440, 30)
			return err
		})
		return st, err
	}
	want := func(what string, w store.SessionTerms) {
		t.Helper()
		got, err := terms(u.PasswordHash)
		if err != nil || got != w {
			t.Fatalf("%s: %+v, %v; want %+v", what, got, err, w)
		}
	}
	want("no organization, no second factor", store.SessionTerms{Expiry: 1440, MaxLifetime: 30})
	a := mkOrg(t, db, "A", 600)
	a.SessionMaxLifetime, a.ModifiedTime = 7, t0
	write(t, db, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, a) })
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	b := mkOrg(t, db, "B", 30) // the default maximum lifetime
	mkPriv(t, db, u.ID, b.ID, mkSite(t, db, b.ID, "s").ID, portal.RoleRead)
	mkPriv(t, db, mkUser(t, db, "other@example.com").ID, mkOrg(t, db, "C", 5).ID, "", portal.RoleAdmin) // not the user's
	want("two organizations", store.SessionTerms{Expiry: 30, MaxLifetime: 7})
	write(t, db, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, u.ID, "sealed", t0) })
	want("a second factor being set up", store.SessionTerms{Expiry: 30, MaxLifetime: 7})
	write(t, db, func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, u.ID, "sealed", 1, t0) })
	want("a verified second factor", store.SessionTerms{Expiry: 30, MaxLifetime: 7, TwoFactor: true})
	if _, err := terms("another hash"); !errors.Is(err, store.ErrPasswordChanged) {
		t.Errorf("SessionTermsIf(stale hash) = %v, want ErrPasswordChanged", err)
	}
	err := db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.SessionTermsIf(ctx, newID(), u.PasswordHash, 1440, 30)
		return err
	})
	if !errors.Is(err, store.ErrPasswordChanged) {
		t.Errorf("SessionTermsIf(unknown user) = %v, want ErrPasswordChanged", err)
	}
}
