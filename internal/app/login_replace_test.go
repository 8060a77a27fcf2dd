package app_test

import (
	"context"
	"strings"
	"testing"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestLoginReplacesPreviousSession: a login given the token of the
// browser's session (Client.SessionToken) ends that session when it is the
// same user's, in its own transaction, and says so in the audit entry; a
// token of another user's session, an unknown or an oversized one changes
// nothing.
func TestLoginReplacesPreviousSession(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		db, clock, svc := ts.db, ts.clock, ts.svc
		ts.addUsers(t, "password123", "ann@example.com", "bob@example.com")
		login := func(email, previous string) *app.LoginResult {
			t.Helper()
			res, err := svc.Login(ctx, email, "password123", app.Client{IP: "198.51.100.7", SessionToken: previous})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		alive := func(token string) bool {
			t.Helper()
			_, err := svc.Authenticate(ctx, token, "198.51.100.7")
			if err != nil && portal.ErrorCode(err) != portal.EUNAUTHORIZED {
				t.Fatal(err)
			}
			return err == nil
		}
		first := login("ann@example.com", "")
		second := login("ann@example.com", first.Token)
		if alive(first.Token) || !alive(second.Token) {
			t.Fatalf("after a login over the first session: first alive %v, second alive %v", alive(first.Token), alive(second.Token))
		}
		a, err := svc.Authenticate(ctx, second.Token, "198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.SelfLogs(ctx, a, app.LogQuery{Duration: "1d"})
		if err != nil {
			t.Fatal(err)
		}
		replaced := 0
		for _, e := range p.Results {
			if e.Message == "Logged in" && e.After["previous_session_ended"] == true {
				replaced++
			}
		}
		if replaced != 1 {
			t.Errorf("%d audit entries of a login that ended the previous session, want 1", replaced)
		}

		bob := login("bob@example.com", second.Token) // Ann's token in Bob's browser
		if !alive(second.Token) || !alive(bob.Token) {
			t.Error("a login of Bob ended Ann's session")
		}
		for _, tok := range []string{"unknown", strings.Repeat("x", 4096), bob.Token + "x"} {
			login("bob@example.com", tok)
		}
		if !alive(bob.Token) || !alive(second.Token) {
			t.Error("a login with an unknown or oversized token ended a session")
		}
		if n, err := db.ListUserSessions(ctx, a.User.ID, clock.Now()); err != nil || len(n) != 1 {
			t.Errorf("Ann has %d sessions (%v), want 1", len(n), err)
		}
	})
}
