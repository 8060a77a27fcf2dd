package app_test

import (
	"context"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestCleanupDeletesExpiredSessions logs in, lets the session expire on the
// injected clock, and checks Cleanup removes it and keeps a live one.
func TestCleanupDeletesExpiredSessions(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), nil)
		db, clock, svc := ts.db, ts.clock, ts.svc
		ts.addUsers(t, "password123", "old@example.com", "new@example.com")
		old, err := svc.Login(ctx, "old@example.com", "password123", app.Client{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(23 * time.Hour)
		fresh, err := svc.Login(ctx, "new@example.com", "password123", app.Client{IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Hour) // the first session (1440 min) has expired, the second not
		if _, err := svc.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetSessionByTokenHash(ctx, authn.HashToken(old.Token)); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("expired session still stored: %v", err)
		}
		if _, err := svc.Authenticate(ctx, fresh.Token, "127.0.0.1"); err != nil {
			t.Errorf("live session was removed: %v", err)
		}
	})
}
