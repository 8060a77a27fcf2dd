package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestSessionMaxLifetime: used every 23 hours for 60 days, a session is
// extended up to 30 days after its login and never beyond: its stored
// expiry never passes that moment, and from then on it is refused with the
// reason, however active it was.
func TestSessionMaxLifetime(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		db, clock, svc := ts.db, ts.clock, ts.svc
		u := ts.addUsers(t, "password123", "ann@example.com")[0]
		res, err := svc.Login(ctx, u.Email, "password123", app.Client{IP: "198.51.100.7"})
		if err != nil {
			t.Fatal(err)
		}
		limit := res.Session.CreatedTime.Add(30 * 24 * time.Hour)
		if res.Session.ExpiresTime.After(limit) {
			t.Fatalf("a new session expires at %v, after its maximum lifetime %v", res.Session.ExpiresTime, limit)
		}
		for day := 1; day <= 60; day++ {
			clock.Advance(23 * time.Hour)
			_, err := svc.Authenticate(ctx, res.Token, "198.51.100.7")
			if clock.Now().Before(limit) {
				if err != nil {
					t.Fatalf("after %v: %v", clock.Now().Sub(res.Session.CreatedTime), err)
				}
				sess, err := db.GetSessionByTokenHash(ctx, authn.HashToken(res.Token))
				if err != nil {
					t.Fatal(err)
				}
				if sess.ExpiresTime.After(limit) {
					t.Fatalf("after %v the session expires at %v, past its maximum lifetime %v", clock.Now().Sub(sess.CreatedTime), sess.ExpiresTime, limit)
				}
				continue
			}
			if portal.ErrorCode(err) != portal.EUNAUTHORIZED || !strings.Contains(err.Error(), "maximum lifetime of 30 days") {
				t.Fatalf("after %v (past the maximum lifetime): %v, want 401 naming the maximum lifetime", clock.Now().Sub(res.Session.CreatedTime), err)
			}
		}
	})
}
