// Package storetest is the contract suite of the store: every method of
// store.DB and store.Tx, run against each database dialect so that SQLite
// and PostgreSQL behave the same. Its files mirror the store's, one per
// table (users.go tests store/users.go…); this one holds Run, the helpers,
// migrations and transactions.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
)

// Run runs the contract suite. open must return a fresh, migrated database
// for each call; the subtests run in parallel, each on its own database.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Migrate", testMigrate},
		// users.go
		{"Users/CreateGet", testUserCreateGet},
		{"Users/DuplicateEmail", testUserDuplicateEmail},
		{"Users/DuplicateKeepsTx", testUserDuplicateKeepsTx},
		{"Users/NotFound", testUserNotFound},
		{"Users/SetEmailVerified", testSetEmailVerified},
		{"Users/SetPasswordHash", testSetPasswordHash},
		{"Users/SetPasswordHashIf", testSetPasswordHashIf},
		{"Users/SessionTermsIf", testSessionTermsIf},
		{"Users/PasswordHistory", testPasswordHistory},
		// orgs.go
		{"Orgs/CRUD", testOrgCRUD},
		{"Orgs/CascadeDelete", testOrgCascadeDelete},
		{"Privileges/UserAccess", testUserAccess},
		{"Orgs/SessionLimits/Expiry", testUserSessionExpiry},
		{"Orgs/SessionLimits/MaxLifetime", testUserSessionMaxLifetime},
		{"Orgs/PasswordPolicy", testPasswordPolicy},
		// sites.go
		{"Sites/CRUD", testSiteCRUD},
		{"Sites/ListPaging", testListSites},
		// privileges.go
		{"Privileges/List", testListPrivileges},
		{"Privileges/OrgMembers", testOrgMembers},
		// sessions.go
		{"Sessions/CRUD", testSessions},
		{"Sessions/DeleteExpired", testDeleteExpiredSessions},
		{"Sessions/PerUser", testUserSessions},
		{"Sessions/PassPending", testPassPendingSession},
		{"Sessions/DeleteUserSessionByToken", testDeleteUserSessionByToken},
		{"Sessions/Promote", testPromoteSession},
		// twofactor.go (and the organizations' requirement, orgs.go)
		{"TwoFactor", testTwoFactor},
		// apitokens.go
		{"APITokens", testAPITokens},
		// registrations.go
		{"Registrations", testRegistrations},
		// invites.go
		{"Invites", testInvites}, {"Invites/Close", testCloseInvite},
		// email_tokens.go
		{"EmailTokens/CreateReplaces", testEmailTokenReplace},
		{"EmailTokens/UseOnce", testUseEmailToken},
		{"EmailTokens/UseExpiry", testUseEmailTokenExpiry},
		{"EmailTokens/UseConcurrent", testUseEmailTokenConcurrent},
		{"EmailTokens/EmailChange", testEmailChangeTokens},
		// outbox.go
		{"Outbox/EnqueueRollback", testEnqueueRollback},
		{"Outbox/ClaimLease", testClaimDue},
		{"Outbox/MarkSentFailed", testMarkSentFailed},
		{"Outbox/ClaimConcurrent", testClaimConcurrent},
		{"Outbox/OwnerReleaseGiveUp", testOutboxOwner},
		// audit.go
		{"Audit/List", testAudit},
		{"Audit/JSON", testAuditJSON},
		// ratelimits.go
		{"RateLimits/Window", testRateLimitWindow},
		{"RateLimits/LockReset", testRateLimitLock},
		{"RateLimits/ReserveRelease", testReserveRelease},
		{"RateLimits/Unreserve", testUnreserve},
		{"RateLimits/ReserveAttempts", testReserveAttempts},
		// survey.go
		{"Survey/State", testSurveyState},
		{"Survey/Answers", testSurveyAnswers},
		{"Survey/Operators", testOperators},
		// secrets.go
		{"Sealed/NotUnderReseal", testSealed},
		// transactions (storetest.go)
		{"Tx/RollbackOnError", testRollback},
		{"Tx/RollbackOnPanic", testRollbackOnPanic},
		{"Tx/ReadsOwnWrites", testTxReadsOwnWrites},
		{"Tx/ExecLater", testExecLater},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 is the suite's clock origin; the store keeps milliseconds.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

func newID() string { return uuid.NewString() }

func write(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Write(context.Background(), fn); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := portal.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func mkUser(t *testing.T, db *store.DB, email string) *portal.User {
	t.Helper()
	u := &portal.User{ID: newID(), Email: email, FirstName: "Ada", LastName: "Lovelace", Phone: "+44 20 7946 0000",
		PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$a2V5", PasswordModifiedTime: t0, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateUser(context.Background(), u) })
	return u
}

func mkOrg(t *testing.T, db *store.DB, name string, expiry int) *portal.Org {
	t.Helper()
	o := &portal.Org{ID: newID(), Name: name, SessionExpiry: expiry, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(context.Background(), o) })
	return o
}

func mkSite(t *testing.T, db *store.DB, orgID, name string) *portal.Site {
	t.Helper()
	s := &portal.Site{ID: newID(), OrgID: orgID, Name: name, Timezone: "Europe/Paris", CountryCode: "FR",
		Address: "1 rue de Rivoli", Notes: "notes", CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateSite(context.Background(), s) })
	return s
}

func mkPriv(t *testing.T, db *store.DB, userID, orgID, siteID, role string) *portal.Privilege {
	t.Helper()
	p := &portal.Privilege{ID: newID(), UserID: userID, OrgID: orgID, SiteID: siteID, Scope: portal.ScopeOrg, Role: role}
	if siteID != "" {
		p.Scope = portal.ScopeSite
	}
	write(t, db, func(tx *store.Tx) error { return tx.CreatePrivilege(context.Background(), p, t0.UnixMilli()) })
	return p
}

// ---- migrations ----

func testMigrate(t *testing.T, db *store.DB) {
	ctx := context.Background()
	v, err := db.MigrationVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v < 1 {
		t.Fatalf("MigrationVersion = %d after Migrate", v)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if v2, err := db.MigrationVersion(ctx); err != nil || v2 != v {
		t.Fatalf("MigrationVersion after second Migrate = %d, %v; want %d", v2, err, v)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := db.Dialect(); d != store.SQLite && d != store.Postgres {
		t.Fatalf("Dialect = %q", d)
	}
}

// ---- transactions ----

func testRollback(t *testing.T, db *store.DB) {
	ctx := context.Background()
	existing := mkUser(t, db, "existing@example.com")
	u := &portal.User{ID: newID(), Email: "rolled-back@example.com", PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0}
	o := &portal.Org{ID: newID(), Name: "rolled back", SessionExpiry: 60, CreatedTime: t0, ModifiedTime: t0}
	adminID := newID()
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := tx.CreatePrivilege(ctx, &portal.Privilege{ID: newID(), UserID: u.ID, OrgID: o.ID, Scope: portal.ScopeOrg, Role: portal.RoleAdmin}, t0.UnixMilli()); err != nil {
			return err
		}
		if err := tx.SetEmailVerified(ctx, existing.ID, t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, &portal.AuditEntry{ID: newID(), Timestamp: t0, AdminID: adminID, AdminName: "x", OrgID: o.ID, SiteID: portal.NilID, Message: "m"}); err != nil {
			return err
		}
		if err := tx.EnqueueMail(ctx, mkMail(1, t0)); err != nil {
			return err
		}
		if _, err := tx.CountEvent(ctx, "k", t0, time.Minute); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
	checkNothingWritten(t, db, u, o, existing, adminID)

	// A failing statement rolls back the statements before it.
	u2 := &portal.User{ID: newID(), Email: "second@example.com", PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0}
	err = db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, u2); err != nil {
			return err
		}
		return tx.CreateUser(ctx, &portal.User{ID: newID(), Email: existing.Email, PasswordHash: "h"})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("Write = %v, want ErrDuplicate", err)
	}
	_, err = db.GetUser(ctx, u2.ID)
	wantCode(t, "user of a failed transaction", err, portal.ENOTFOUND)
}

func checkNothingWritten(t *testing.T, db *store.DB, u *portal.User, o *portal.Org, existing *portal.User, adminID string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.GetUser(ctx, u.ID)
	wantCode(t, "user of a rolled-back transaction", err, portal.ENOTFOUND)
	_, err = db.GetOrg(ctx, o.ID)
	wantCode(t, "organization of a rolled-back transaction", err, portal.ENOTFOUND)
	if privs, err := db.ListPrivileges(ctx, u.ID); err != nil || len(privs) != 0 {
		t.Fatalf("privileges of a rolled-back transaction: %v, %v", privs, err)
	}
	if got, err := db.GetUser(ctx, existing.ID); err != nil || got.EmailVerified {
		t.Fatalf("update of a rolled-back transaction kept: %+v, %v", got, err)
	}
	if _, total, err := db.ListAudit(ctx, store.AuditQuery{AdminID: adminID, Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}}); err != nil || total != 0 {
		t.Fatalf("audit of a rolled-back transaction: %d, %v", total, err)
	}
	if n := pending(t, db); n != 0 {
		t.Fatalf("mail of a rolled-back transaction: %d pending", n)
	}
	if n := record(t, db, "k", t0, time.Minute); n != 1 {
		t.Fatalf("rate-limit count of a rolled-back transaction kept: %d events", n)
	}
}

func testRollbackOnPanic(t *testing.T, db *store.DB) {
	// Bounded so that a transaction left open by the panic (which would
	// hold SQLite's only write connection) fails the test instead of
	// hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := &portal.User{ID: newID(), Email: "panic@example.com", PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0}
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Fatalf("recovered %v, want the panic of the function", p)
			}
		}()
		_ = db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	for i := range 3 { // more writes than the write pool has connections
		err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateOrg(ctx, &portal.Org{ID: newID(), Name: fmt.Sprint(i), SessionExpiry: 60, CreatedTime: t0, ModifiedTime: t0})
		})
		if err != nil {
			t.Fatalf("write after a panicking transaction: %v", err)
		}
	}
	_, err := db.GetUser(ctx, u.ID)
	wantCode(t, "user of a panicking transaction", err, portal.ENOTFOUND)
}

func testTxReadsOwnWrites(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := &portal.User{ID: newID(), Email: "Own@Example.com", PasswordHash: "h", CreatedTime: t0, ModifiedTime: t0, PasswordModifiedTime: t0}
	o := &portal.Org{ID: newID(), Name: "own", SessionExpiry: 42, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if got, err := tx.GetUserByEmail(ctx, "own@example.com"); err != nil || got.ID != u.ID {
			return fmt.Errorf("GetUserByEmail in the transaction: %v, %v", got, err)
		}
		if err := tx.CreateOrg(ctx, o); err != nil {
			return err
		}
		if err := tx.CreatePrivilege(ctx, &portal.Privilege{ID: newID(), UserID: u.ID, OrgID: o.ID, Scope: portal.ScopeOrg, Role: portal.RoleAdmin}, t0.UnixMilli()); err != nil {
			return err
		}
		if a, err := tx.UserAccess(ctx, u.ID); err != nil || len(a.Orgs) != 1 || a.Orgs[0].SessionExpiry != 42 {
			return fmt.Errorf("UserAccess in the transaction: %+v, %v", a.Orgs, err)
		}
		if err := tx.EnqueueMail(ctx, mkMail(1, t0)); err != nil {
			return err
		}
		if n, err := tx.PendingMail(ctx); err != nil || n != 1 {
			return fmt.Errorf("PendingMail in the transaction: %d, %v", n, err)
		}
		return nil
	})
}

// exactlyOneWins runs fn in n transactions at once (goroutines released
// together) and fails unless exactly one commits and every other fails with
// an error that is lost (errors.Is): what is the operation, for messages.
func exactlyOneWins(t *testing.T, db *store.DB, n int, lost error, what string, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) })
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, lost):
			t.Errorf("%s, goroutine %d: %v (want success or %v)", what, i, err, lost)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent %s succeeded, want exactly 1", ok, n, what)
	}
}

// testExecLater: the statements a transaction sends later (execLater:
// new sessions, audit entries, counters given back) are seen by its own
// later reads; one that fails fails the whole transaction, at its commit,
// and leaves nothing of it behind; and the connection is usable again
// after (no transaction left open on it).
func testExecLater(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "later@example.com")
	sess := func(id string) *portal.Session {
		return &portal.Session{ID: id, TokenHash: "later-" + id, UserID: u.ID, CSRFToken: "c", CreatedTime: t0,
			LastSeenTime: t0, ExpiresTime: t0.Add(time.Hour), AuthTime: t0}
	}
	first := sess(newID())
	write(t, db, func(tx *store.Tx) error {
		if err := tx.CreateSession(ctx, first); err != nil {
			return err
		}
		if got, err := tx.GetSessionByTokenHash(ctx, first.TokenHash); err != nil || got.ID != first.ID {
			return fmt.Errorf("GetSessionByTokenHash in the transaction: %v, %v", got, err)
		}
		return nil
	})
	for range 2 { // the second time on the connection the first failure left
		second, audit := sess(newID()), &portal.AuditEntry{ID: newID(), Timestamp: t0, AdminID: u.ID, Message: "later"}
		err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateSession(ctx, second); err != nil {
				return err
			}
			if err := tx.InsertAudit(ctx, audit); err != nil {
				return err
			}
			return tx.CreateSession(ctx, first) // its id is taken: fails, here or at the commit
		})
		if err == nil {
			t.Fatal("a transaction whose last statement failed committed")
		}
		if _, err := db.GetSessionByTokenHash(ctx, second.TokenHash); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Fatalf("the failed transaction's session: %v, want not found (rolled back)", err)
		}
		entries, _, err := db.ListAudit(ctx, store.AuditQuery{AdminID: u.ID, Start: t0.Add(-time.Hour), End: t0.Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
		if err != nil || len(entries) != 0 {
			t.Fatalf("the failed transaction's audit entry: %d entries, %v; want none", len(entries), err)
		}
	}
	third := sess(newID())
	write(t, db, func(tx *store.Tx) error { return tx.CreateSession(ctx, third) })
	if _, err := db.GetSessionByTokenHash(ctx, third.TokenHash); err != nil {
		t.Fatalf("a write after the failed ones: %v", err)
	}
}
