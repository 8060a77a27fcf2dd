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

func mkSession(t *testing.T, db *store.DB, userID string, expires time.Time) *portal.Session {
	t.Helper()
	s := &portal.Session{ID: newID(), TokenHash: newID(), UserID: userID, CSRFToken: "csrf-" + newID(),
		CreatedTime: t0, LastSeenTime: t0, ExpiresTime: expires, AuthTime: t0.Add(-time.Second),
		TwoFactorPassed: true, IP: "192.0.2.1", UserAgent: "test/1.0"}
	write(t, db, func(tx *store.Tx) error { return tx.CreateSession(context.Background(), s) })
	return s
}

func testSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "sess@example.com")
	s := mkSession(t, db, u.ID, t0.Add(time.Hour))
	got, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSessionByTokenHash = %+v\nwant %+v", got, s)
	}
	s2 := &portal.Session{ID: newID(), TokenHash: newID(), UserID: u.ID, CSRFToken: "c", CreatedTime: t0, LastSeenTime: t0, ExpiresTime: t0.Add(time.Hour), AuthTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateSession(ctx, s2) })
	if got, err := db.GetSessionByTokenHash(ctx, s2.TokenHash); err != nil || !reflect.DeepEqual(got, s2) {
		t.Fatalf("GetSessionByTokenHash = %+v, %v\nwant %+v", got, err, s2)
	}
	_, err = db.GetSessionByTokenHash(ctx, "unknown")
	wantCode(t, "GetSessionByTokenHash(unknown)", err, portal.ENOTFOUND)

	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateSession(ctx, &portal.Session{ID: newID(), TokenHash: s.TokenHash, UserID: u.ID, CSRFToken: "c"})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateSession with a taken token hash: %v, want ErrDuplicate", err)
	}

	seen, expires := t0.Add(10*time.Minute), t0.Add(70*time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.TouchSession(ctx, s.ID, seen, expires) })
	if got, err = db.GetSessionByTokenHash(ctx, s.TokenHash); err != nil {
		t.Fatal(err)
	}
	wantTime(t, "LastSeenTime", got.LastSeenTime, seen)
	wantTime(t, "ExpiresTime", got.ExpiresTime, expires)
	wantTime(t, "CreatedTime", got.CreatedTime, t0)
	wantTime(t, "AuthTime", got.AuthTime, s.AuthTime)
	if got, _ := db.GetSessionByTokenHash(ctx, s2.TokenHash); !got.ExpiresTime.Equal(s2.ExpiresTime) {
		t.Error("TouchSession changed another session")
	}

	write(t, db, func(tx *store.Tx) error { return tx.DeleteSession(ctx, s.ID) })
	_, err = db.GetSessionByTokenHash(ctx, s.TokenHash)
	wantCode(t, "GetSessionByTokenHash(deleted)", err, portal.ENOTFOUND)
	if _, err := db.GetSessionByTokenHash(ctx, s2.TokenHash); err != nil {
		t.Fatalf("DeleteSession removed another session: %v", err)
	}
	// Deleting or touching a missing session is not an error.
	write(t, db, func(tx *store.Tx) error { return tx.DeleteSession(ctx, s.ID) })
	write(t, db, func(tx *store.Tx) error { return tx.TouchSession(ctx, s.ID, seen, expires) })
}

func testDeleteExpiredSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "expired@example.com")
	now := t0.Add(time.Hour)
	past1 := mkSession(t, db, u.ID, now.Add(-time.Minute))
	past2 := mkSession(t, db, u.ID, now.Add(-time.Millisecond))
	atNow := mkSession(t, db, u.ID, now)
	future := mkSession(t, db, u.ID, now.Add(time.Minute))

	var n int64
	write(t, db, func(tx *store.Tx) (err error) { n, err = tx.DeleteExpiredSessions(ctx, now); return err })
	if n != 2 {
		t.Fatalf("DeleteExpiredSessions removed %d sessions, want 2", n)
	}
	for _, s := range []*portal.Session{past1, past2} {
		_, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
		wantCode(t, "expired session", err, portal.ENOTFOUND)
	}
	for _, s := range []*portal.Session{atNow, future} {
		if _, err := db.GetSessionByTokenHash(ctx, s.TokenHash); err != nil {
			t.Fatalf("session expiring at %v was removed at %v: %v", s.ExpiresTime, now, err)
		}
	}
	write(t, db, func(tx *store.Tx) (err error) { n, err = tx.DeleteExpiredSessions(ctx, now); return err })
	if n != 0 {
		t.Fatalf("second DeleteExpiredSessions removed %d", n)
	}
}

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

// testPassPendingSession: the session has passed its second factor and a
// new token hash replaces the old one, which is then unknown; everything
// else of the session stays. Passing from a hash that is no longer the
// session's (twice, or a gone session) is not found and changes nothing;
// other sessions are untouched.
func testPassPendingSession(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "rotate@example.com")
	s := mkSession(t, db, u.ID, t0.Add(time.Hour))
	other := mkSession(t, db, u.ID, t0.Add(time.Hour))
	newHash := "rotated-" + newID()
	write(t, db, func(tx *store.Tx) error { return tx.PassPendingSession(ctx, s.ID, s.TokenHash, newHash) })
	_, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
	wantCode(t, "the old token hash", err, portal.ENOTFOUND)
	got, err := db.GetSessionByTokenHash(ctx, newHash)
	if err != nil {
		t.Fatal(err)
	}
	want := *s
	want.TokenHash, want.TwoFactorPassed = newHash, true
	if *got != want {
		t.Errorf("passed session = %+v\nwant %+v", got, want)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PassPendingSession(ctx, s.ID, s.TokenHash, "again-"+newID()) })
	wantCode(t, "PassPendingSession from a stale hash", err, portal.ENOTFOUND)
	if _, err := db.GetSessionByTokenHash(ctx, newHash); err != nil {
		t.Errorf("a stale pass changed the token: %v", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PassPendingSession(ctx, newID(), other.TokenHash, "x-"+newID()) })
	wantCode(t, "PassPendingSession of an unknown id", err, portal.ENOTFOUND)
	if got, err := db.GetSessionByTokenHash(ctx, other.TokenHash); err != nil || *got != *other {
		t.Errorf("another session changed: %+v, %v", got, err)
	}
	// A hash taken by another session is refused.
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PassPendingSession(ctx, other.ID, other.TokenHash, newHash) })
	if err == nil {
		t.Error("PassPendingSession to another session's hash succeeded")
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

// testPromoteSession: a password-only session becomes a full one with a
// new authentication time and expiry; an unknown session is not found.
func testPromoteSession(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "promote@example.com")
	s := &portal.Session{ID: newID(), TokenHash: newID(), UserID: u.ID, CSRFToken: "csrf", CreatedTime: t0, LastSeenTime: t0,
		ExpiresTime: t0.Add(15 * time.Minute), AuthTime: t0, PasswordOnly: true}
	write(t, db, func(tx *store.Tx) error { return tx.CreateSession(ctx, s) })
	got, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
	if err != nil || !got.PasswordOnly {
		t.Fatalf("password-only session read back as %+v, %v", got, err)
	}
	at, exp := t0.Add(5*time.Minute), t0.Add(24*time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.PromoteSession(ctx, s.ID, at, exp) })
	got, err = db.GetSessionByTokenHash(ctx, s.TokenHash)
	if err != nil || got.PasswordOnly || !got.AuthTime.Equal(at) || !got.LastSeenTime.Equal(at) || !got.ExpiresTime.Equal(exp) {
		t.Errorf("promoted session = %+v, %v", got, err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PromoteSession(ctx, newID(), at, exp) })
	if portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unknown session: %v", err)
	}
}
