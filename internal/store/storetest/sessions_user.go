package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

// testUserSessions: a user's live sessions are listed most recently seen
// first, without expired ones or other users'; one session is found and
// deleted only through its own user (another user's id is not found and
// stays); signing out everywhere but one keeps that one and other users'.
func testUserSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "many.sessions@example.com")
	other := mkUser(t, db, "other.sessions@example.com")
	now := t0.Add(30 * time.Minute)

	older := mkSession(t, db, u.ID, t0.Add(time.Hour))
	newer := mkSession(t, db, u.ID, t0.Add(2*time.Hour))
	write(t, db, func(tx *store.Tx) error {
		return tx.TouchSession(ctx, newer.ID, t0.Add(10*time.Minute), newer.ExpiresTime)
	})
	newer.LastSeenTime = t0.Add(10 * time.Minute)
	expired := mkSession(t, db, u.ID, now)
	foreign := mkSession(t, db, other.ID, t0.Add(time.Hour))

	ids := func(list []*portal.Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	list, err := db.ListUserSessions(ctx, u.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(list), []string{newer.ID, older.ID}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListUserSessions = %v, want %v (most recently seen first, expired %s left out)", got, want, expired.ID)
	}
	if !reflect.DeepEqual(list[0], newer) {
		t.Errorf("listed session = %+v\nwant %+v", list[0], newer)
	}
	if list, err := db.ListUserSessions(ctx, "no-such-user", now); err != nil || len(list) != 0 {
		t.Errorf("ListUserSessions(unknown user) = %v, %v", ids(list), err)
	}

	got, err := db.GetUserSession(ctx, u.ID, older.ID)
	if err != nil || !reflect.DeepEqual(got, older) {
		t.Fatalf("GetUserSession = %+v, %v\nwant %+v", got, err, older)
	}
	_, err = db.GetUserSession(ctx, u.ID, foreign.ID)
	wantCode(t, "GetUserSession(another user's session)", err, portal.ENOTFOUND)
	_, err = db.GetUserSession(ctx, u.ID, "not-an-id")
	wantCode(t, "GetUserSession(unknown)", err, portal.ENOTFOUND)

	// Another user's session: not found, and still there.
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteUserSession(ctx, u.ID, foreign.ID) })
	wantCode(t, "DeleteUserSession(another user's session)", err, portal.ENOTFOUND)
	if _, err := db.GetSessionByTokenHash(ctx, foreign.TokenHash); err != nil {
		t.Fatalf("another user's session is gone: %v", err)
	}
	write(t, db, func(tx *store.Tx) error { return tx.DeleteUserSession(ctx, u.ID, older.ID) })
	_, err = db.GetSessionByTokenHash(ctx, older.TokenHash)
	wantCode(t, "deleted session", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteUserSession(ctx, u.ID, older.ID) })
	wantCode(t, "DeleteUserSession twice", err, portal.ENOTFOUND)
	if _, err := db.GetSessionByTokenHash(ctx, newer.TokenHash); err != nil {
		t.Fatalf("DeleteUserSession removed another session: %v", err)
	}

	// Everywhere but one: the kept one and the other user's stay.
	third := mkSession(t, db, u.ID, t0.Add(time.Hour))
	var n int64
	write(t, db, func(tx *store.Tx) (err error) { n, err = tx.DeleteUserSessions(ctx, u.ID, third.ID); return err })
	if n != 2 { // newer and expired
		t.Errorf("DeleteUserSessions ended %d sessions, want 2", n)
	}
	if list, _ := db.ListUserSessions(ctx, u.ID, t0); !reflect.DeepEqual(ids(list), []string{third.ID}) {
		t.Errorf("after DeleteUserSessions the user has %v, want only %s", ids(list), third.ID)
	}
	if _, err := db.GetSessionByTokenHash(ctx, foreign.TokenHash); err != nil {
		t.Errorf("DeleteUserSessions removed another user's session: %v", err)
	}
	write(t, db, func(tx *store.Tx) (err error) { n, err = tx.DeleteUserSessions(ctx, u.ID, ""); return err })
	if n != 1 {
		t.Errorf("DeleteUserSessions(everywhere) ended %d sessions, want 1", n)
	}
}
