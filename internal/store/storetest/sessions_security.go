package storetest

import (
	"context"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

// testUserSessionMaxLifetime: the shortest session_max_lifetime (days) of
// the user's organizations, the default without one; an organization made
// without a value has the default.
func testUserSessionMaxLifetime(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "lifetime@example.com")
	get := func() int {
		t.Helper()
		v, err := db.UserSessionMaxLifetime(ctx, u.ID, portal.DefaultSessionMaxLifetime)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("no organization: %d, want the default %d", v, portal.DefaultSessionMaxLifetime)
	}
	a := mkOrg(t, db, "A", 600) // without a value: the default
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("one organization with the default: %d", v)
	}
	b := &portal.Org{ID: newID(), Name: "B", SessionExpiry: 600, SessionMaxLifetime: 7, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, b) })
	mkPriv(t, db, u.ID, b.ID, mkSite(t, db, b.ID, "s").ID, portal.RoleHelpdesk) // site access counts too
	if v := get(); v != 7 {
		t.Fatalf("two organizations: %d, want the shorter 7", v)
	}
	// Another user's organizations do not count; an update does.
	c := &portal.Org{ID: newID(), Name: "C", SessionExpiry: 600, SessionMaxLifetime: 1, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, c) })
	mkPriv(t, db, mkUser(t, db, "x@example.com").ID, c.ID, "", portal.RoleAdmin)
	if v := get(); v != 7 {
		t.Fatalf("after another user's organization: %d, want 7", v)
	}
	a.SessionMaxLifetime = 3
	write(t, db, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, a) })
	if v := get(); v != 3 {
		t.Fatalf("after lowering A: %d, want 3", v)
	}
	if v, err := db.UserSessionMaxLifetime(ctx, "no-such-user", 99); err != nil || v != 99 {
		t.Fatalf("unknown user: %d, %v, want the default given", v, err)
	}
}

// testRotateSessionToken: a new token hash replaces the old one, which is
// then unknown; everything else of the session stays. Rotating from a hash
// that is no longer the session's (twice, or a gone session) is not found
// and changes nothing; other sessions are untouched.
func testRotateSessionToken(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "rotate@example.com")
	s := mkSession(t, db, u.ID, t0.Add(time.Hour))
	other := mkSession(t, db, u.ID, t0.Add(time.Hour))
	newHash := "rotated-" + newID()
	write(t, db, func(tx *store.Tx) error { return tx.RotateSessionToken(ctx, s.ID, s.TokenHash, newHash) })
	_, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
	wantCode(t, "the old token hash", err, portal.ENOTFOUND)
	got, err := db.GetSessionByTokenHash(ctx, newHash)
	if err != nil {
		t.Fatal(err)
	}
	want := *s
	want.TokenHash = newHash
	if *got != want {
		t.Errorf("rotated session = %+v\nwant %+v", got, want)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.RotateSessionToken(ctx, s.ID, s.TokenHash, "again-"+newID()) })
	wantCode(t, "RotateSessionToken from a stale hash", err, portal.ENOTFOUND)
	if _, err := db.GetSessionByTokenHash(ctx, newHash); err != nil {
		t.Errorf("a stale rotation changed the token: %v", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.RotateSessionToken(ctx, newID(), other.TokenHash, "x-"+newID()) })
	wantCode(t, "RotateSessionToken of an unknown id", err, portal.ENOTFOUND)
	if got, err := db.GetSessionByTokenHash(ctx, other.TokenHash); err != nil || *got != *other {
		t.Errorf("another session changed: %+v, %v", got, err)
	}
	// A hash taken by another session is refused.
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.RotateSessionToken(ctx, other.ID, other.TokenHash, newHash) })
	if err == nil {
		t.Error("RotateSessionToken to another session's hash succeeded")
	}
}

// testDeleteUserSessionByToken: the session of a token ends only through
// its own user; an unknown token or another user's session is not deleted.
func testDeleteUserSessionByToken(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "bytoken@example.com")
	other := mkUser(t, db, "other.bytoken@example.com")
	mine := mkSession(t, db, u.ID, t0.Add(time.Hour))
	keep := mkSession(t, db, u.ID, t0.Add(time.Hour))
	theirs := mkSession(t, db, other.ID, t0.Add(time.Hour))
	del := func(userID, hash string) bool {
		t.Helper()
		var ok bool
		write(t, db, func(tx *store.Tx) (err error) { ok, err = tx.DeleteUserSessionByToken(ctx, userID, hash); return err })
		return ok
	}
	if del(u.ID, theirs.TokenHash) {
		t.Error("another user's session was reported deleted")
	}
	if _, err := db.GetSessionByTokenHash(ctx, theirs.TokenHash); err != nil {
		t.Fatalf("another user's session is gone: %v", err)
	}
	if del(u.ID, "unknown") {
		t.Error("an unknown token was reported deleted")
	}
	if !del(u.ID, mine.TokenHash) {
		t.Error("the user's session was not deleted")
	}
	_, err := db.GetSessionByTokenHash(ctx, mine.TokenHash)
	wantCode(t, "deleted session", err, portal.ENOTFOUND)
	if del(u.ID, mine.TokenHash) {
		t.Error("deleted twice")
	}
	if _, err := db.GetSessionByTokenHash(ctx, keep.TokenHash); err != nil {
		t.Errorf("another session of the user is gone: %v", err)
	}
}
