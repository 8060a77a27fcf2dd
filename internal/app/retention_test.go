package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAuditRetentionBoundary: with the injected clock, to the second. The
// audit entries of a deleted user's activity are kept 29 days 23:59:59
// after the deletion and gone at 30 days, with the deletion record; an
// organization's entries follow its retention (30 days set by its Super
// User; 365 by default); the others are left alone.
func TestAuditRetentionBoundary(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, time.Time{}, nil)
		svc, db, clock := ts.svc, ts.db, ts.clock
		const password = "retention horse 7"
		users := ts.addUsers(t, password, "ann@example.com", "bob@example.com")
		ann := &app.Actor{User: users[0], Session: &portal.Session{ID: uuid.NewString()}, IP: "192.0.2.1"}
		bob := &app.Actor{User: users[1], Session: &portal.Session{ID: uuid.NewString()}, IP: "192.0.2.2"}
		shared, err := svc.CreateOrg(ctx, bob, app.OrgInput{Name: valuePtr("Shared")})
		if err != nil {
			t.Fatal(err)
		}
		short, err := svc.CreateOrg(ctx, bob, app.OrgInput{Name: valuePtr("Short")})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetAuditRetention(ctx, bob, short.ID, 29); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("a retention of 29 days: %v, want refused", err)
		}
		if err := svc.SetAuditRetention(ctx, ann, short.ID, 30); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("a retention set by a non-member: %v, want not found", err)
		}
		if err := svc.SetAuditRetention(ctx, bob, short.ID, 30); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: ann.User.ID, OrgID: shared.ID, Scope: portal.ScopeOrg, Role: portal.RoleWrite}, clock.Now().UnixMilli())
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSite(ctx, ann, shared.ID, app.SiteInput{Name: valuePtr("Ann's site")}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.DeleteAccount(ctx, ann, app.Reauth{Password: password}); err != nil {
			t.Fatal(err)
		}

		count := func(q store.AuditQuery) int {
			t.Helper()
			q.End, q.Page = clock.Now().Add(time.Hour), portal.Page{Limit: 1, Page: 1}
			_, n, err := db.ListAudit(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		purge := func() *app.PurgeReport {
			t.Helper()
			r, err := svc.PurgeRetention(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		annEntries, shortEntries, sharedEntries := count(store.AuditQuery{AdminID: ann.User.ID}), count(store.AuditQuery{OrgID: short.ID}), count(store.AuditQuery{OrgID: shared.ID})
		if annEntries != 2 || shortEntries != 2 || sharedEntries != 2 { // ann: the site and the deletion
			t.Fatalf("entries before: ann %d, Short %d, Shared %d; want 2, 2, 2", annEntries, shortEntries, sharedEntries)
		}

		clock.Advance(30*24*time.Hour - time.Second) // 29 days 23:59:59
		if r := purge(); r.Total() != 0 {
			t.Errorf("purge at 29d23h59m59s removed %s", r)
		}
		if n := count(store.AuditQuery{AdminID: ann.User.ID}); n != annEntries {
			t.Errorf("at 29d23h59m59s the deleted user has %d entries, want %d", n, annEntries)
		}
		if n := count(store.AuditQuery{OrgID: short.ID}); n != shortEntries {
			t.Errorf("at 29d23h59m59s Short has %d entries, want %d", n, shortEntries)
		}

		clock.Advance(time.Second) // 30 days
		r := purge()
		if r.DeletedUsersAudit != int64(annEntries) || r.OrgAudit != int64(shortEntries) || r.OtherAudit != 0 {
			t.Errorf("purge at 30 days: %s; want %d of the deleted user, %d of Short", r, annEntries, shortEntries)
		}
		if n := count(store.AuditQuery{AdminID: ann.User.ID}); n != 0 {
			t.Errorf("at 30 days the deleted user still has %d entries", n)
		}
		if _, err := db.GetDeletedUser(ctx, ann.User.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("deletion record at 30 days: %v, want gone", err)
		}
		if n := count(store.AuditQuery{OrgID: short.ID}); n != 0 {
			t.Errorf("at 30 days Short (30-day retention) still has %d entries", n)
		}
		if n := count(store.AuditQuery{OrgID: shared.ID}); n != sharedEntries-1 { // ann's site entry went with her
			t.Errorf("Shared (default retention) has %d entries, want %d", n, sharedEntries-1)
		}
		if r := purge(); r.Total() != 0 {
			t.Errorf("a second purge removed %s", r)
		}

		// The default retention: 365 days.
		clock.Advance(335*24*time.Hour - time.Second)
		if r := purge(); r.OrgAudit != 0 {
			t.Errorf("purge at 364d23h59m59s removed %s", r)
		}
		clock.Advance(time.Second)
		if r := purge(); r.OrgAudit != int64(sharedEntries-1) {
			t.Errorf("purge at 365 days: %s, want Shared's %d", r, sharedEntries-1)
		}
	})
}

// TestRetentionPurgeBatches: a purge larger than one batch deletes
// everything, in several short statements.
func TestRetentionPurgeBatches(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, time.Time{}, nil)
		old := ts.clock.Now()
		const n = 1234
		if err := ts.db.Write(ctx, func(tx *store.Tx) error {
			for i := range n {
				if err := tx.InsertAudit(ctx, &portal.AuditEntry{ID: uuid.NewString(), Timestamp: old.Add(time.Duration(i) * time.Millisecond),
					AdminID: uuid.NewString(), AdminName: "Someone", OrgID: portal.NilID, SiteID: portal.NilID, Message: "Logged in"}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ts.clock.Advance(366 * 24 * time.Hour)
		r, err := ts.svc.PurgeRetention(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.OtherAudit != n || r.Batches != 3+3 {
			t.Errorf("purge: %s; want %d other entries in 3 batches (and one for each other kind)", r, n)
		}
	})
}

func valuePtr[T any](v T) *T { return &v }
