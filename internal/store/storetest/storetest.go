// Package storetest is the contract suite of the store: every method of
// store.DB and store.Tx, run against each database dialect so that SQLite
// and PostgreSQL behave the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
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
		{"Users/CreateGet", testUserCreateGet},
		{"Users/DuplicateEmail", testUserDuplicateEmail},
		{"Users/DuplicateKeepsTx", testUserDuplicateKeepsTx},
		{"Users/NotFound", testUserNotFound},
		{"Users/SetEmailVerified", testSetEmailVerified},
		{"Users/SetPasswordHash", testSetPasswordHash},
		{"Orgs/CRUD", testOrgCRUD},
		{"Sites/CRUD", testSiteCRUD},
		{"Sites/ListPaging", testListSites},
		{"Orgs/CascadeDelete", testOrgCascadeDelete},
		{"Privileges/List", testListPrivileges},
		{"Privileges/UserSessionExpiry", testUserSessionExpiry},
		{"Privileges/UserSessionMaxLifetime", testUserSessionMaxLifetime},
		{"Sessions/CRUD", testSessions},
		{"Sessions/DeleteExpired", testDeleteExpiredSessions},
		{"Sessions/PerUser", testUserSessions},
		{"Sessions/RotateToken", testRotateSessionToken},
		{"Sessions/DeleteUserSessionByToken", testDeleteUserSessionByToken},
		{"TwoFactor", testTwoFactor}, // twofactor.go
		{"APITokens", testAPITokens},
		{"Registrations", testRegistrations},
		{"Invites", testInvites}, {"Invites/Close", testCloseInvite}, {"Invites/OrgMembers", testOrgMembers},
		{"EmailTokens/CreateReplaces", testEmailTokenReplace},
		{"EmailTokens/UseOnce", testUseEmailToken},
		{"EmailTokens/UseExpiry", testUseEmailTokenExpiry},
		{"EmailTokens/UseConcurrent", testUseEmailTokenConcurrent},
		{"EmailTokens/EmailChange", testEmailChangeTokens},
		{"Passwords/Policy", testPasswordPolicy},
		{"Passwords/History", testPasswordHistory},
		{"Passwords/PromoteSession", testPromoteSession},
		{"Outbox/EnqueueRollback", testEnqueueRollback},
		{"Outbox/ClaimLease", testClaimDue},
		{"Outbox/MarkSentFailed", testMarkSentFailed},
		{"Outbox/ClaimConcurrent", testClaimConcurrent},
		{"Audit/List", testAudit},
		{"Audit/JSON", testAuditJSON},
		{"Throttle/Window", testThrottleWindow},
		{"Throttle/LockReset", testThrottleLock},
		{"Tx/RollbackOnError", testRollback},
		{"Tx/RollbackOnPanic", testRollbackOnPanic},
		{"Tx/ReadsOwnWrites", testTxReadsOwnWrites},
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

// ---- users ----

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

// ---- organizations, sites, privileges ----

func testOrgCRUD(t *testing.T, db *store.DB) {
	ctx := context.Background()
	o := mkOrg(t, db, "Acme", 600)
	got, err := db.GetOrg(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Fatalf("GetOrg = %+v, want %+v", got, o)
	}
	if o.SessionMaxLifetime != portal.DefaultSessionMaxLifetime {
		t.Errorf("CreateOrg without a maximum lifetime: %d, want the default %d", o.SessionMaxLifetime, portal.DefaultSessionMaxLifetime)
	}
	o.Name, o.SessionExpiry, o.SessionMaxLifetime, o.ModifiedTime = "Acme Corp", 30, 7, t0.Add(time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, o) })
	if got, err = db.GetOrg(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, o) {
		t.Fatalf("GetOrg after update = %+v, want %+v", got, o)
	}
	missing := &portal.Org{ID: newID(), Name: "x", SessionExpiry: 10}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, missing) })
	wantCode(t, "UpdateOrg(unknown)", err, portal.ENOTFOUND)
	_, err = db.GetOrg(ctx, missing.ID)
	wantCode(t, "GetOrg(unknown)", err, portal.ENOTFOUND)

	write(t, db, func(tx *store.Tx) error { return tx.DeleteOrg(ctx, o.ID) })
	_, err = db.GetOrg(ctx, o.ID)
	wantCode(t, "GetOrg(deleted)", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteOrg(ctx, o.ID) })
	wantCode(t, "DeleteOrg(deleted)", err, portal.ENOTFOUND)
}

func testSiteCRUD(t *testing.T, db *store.DB) {
	ctx := context.Background()
	o := mkOrg(t, db, "Acme", 600)
	s := mkSite(t, db, o.ID, "headquarters")
	got, err := db.GetSite(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSite = %+v\nwant %+v", got, s)
	}
	s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, s.ModifiedTime = "hq", "America/New_York", "US", "5th Avenue", "", t0.Add(time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.UpdateSite(ctx, s) })
	if got, err = db.GetSite(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSite after update = %+v\nwant %+v", got, s)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateSite(ctx, &portal.Site{ID: newID(), Name: "x"}) })
	wantCode(t, "UpdateSite(unknown)", err, portal.ENOTFOUND)

	// A site needs an existing organization (foreign keys are enforced).
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateSite(ctx, &portal.Site{ID: newID(), OrgID: newID(), Name: "orphan", CreatedTime: t0, ModifiedTime: t0})
	})
	if err == nil {
		t.Fatal("CreateSite with an unknown organization succeeded: foreign keys are not enforced")
	}
	if errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateSite with an unknown organization: %v, which is not a duplicate", err)
	}

	write(t, db, func(tx *store.Tx) error { return tx.DeleteSite(ctx, s.ID) })
	_, err = db.GetSite(ctx, s.ID)
	wantCode(t, "GetSite(deleted)", err, portal.ENOTFOUND)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSite(ctx, s.ID) })
	wantCode(t, "DeleteSite(deleted)", err, portal.ENOTFOUND)
}

func testListSites(t *testing.T, db *store.DB) {
	ctx := context.Background()
	a := mkOrg(t, db, "A", 600)
	b := mkOrg(t, db, "B", 600)
	names := []string{"site-01", "site-02", "site-03", "site-04", "site-05", "site-06", "site-07"}
	shuffled := append([]string(nil), names...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range shuffled {
		mkSite(t, db, a.ID, n)
	}
	mkSite(t, db, b.ID, "site-00") // another organization's: never listed for a

	var all []string
	for page := 1; page <= 4; page++ {
		got, total, err := db.ListSites(ctx, a.ID, portal.Page{Limit: 3, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		if total != len(names) {
			t.Errorf("page %d: total = %d, want %d", page, total, len(names))
		}
		wantLen := min(3, max(0, len(names)-(page-1)*3))
		if len(got) != wantLen {
			t.Errorf("page %d: %d sites, want %d", page, len(got), wantLen)
		}
		for _, s := range got {
			if s.OrgID != a.ID {
				t.Errorf("page %d: site %s of organization %s", page, s.Name, s.OrgID)
			}
			all = append(all, s.Name)
		}
	}
	if !reflect.DeepEqual(all, names) {
		t.Fatalf("sites over all pages = %v, want %v", all, names)
	}

	// Equal names are ordered by id, so pages never overlap.
	c := mkOrg(t, db, "C", 600)
	var ids []string
	for range 4 {
		ids = append(ids, mkSite(t, db, c.ID, "same").ID)
	}
	slices.Sort(ids)
	var gotIDs []string
	for page := 1; page <= 2; page++ {
		got, total, err := db.ListSites(ctx, c.ID, portal.Page{Limit: 2, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		if total != 4 {
			t.Errorf("total = %d, want 4", total)
		}
		for _, s := range got {
			gotIDs = append(gotIDs, s.ID)
		}
	}
	if !reflect.DeepEqual(gotIDs, ids) {
		t.Fatalf("equal names listed as %v, want by id %v", gotIDs, ids)
	}

	got, total, err := db.ListSites(ctx, newID(), portal.Page{Limit: 10, Page: 1})
	if err != nil || total != 0 || len(got) != 0 {
		t.Fatalf("ListSites(unknown org) = %v, %d, %v; want nothing", got, total, err)
	}
}

func testOrgCascadeDelete(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "member@example.com")
	a := mkOrg(t, db, "A", 600)
	b := mkOrg(t, db, "B", 600)
	s1 := mkSite(t, db, a.ID, "one")
	s2 := mkSite(t, db, a.ID, "two")
	sb := mkSite(t, db, b.ID, "b-site")
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	mkPriv(t, db, u.ID, a.ID, s1.ID, portal.RoleHelpdesk)
	pb := mkPriv(t, db, u.ID, b.ID, "", portal.RoleRead)

	write(t, db, func(tx *store.Tx) error { return tx.DeleteOrg(ctx, a.ID) })
	for _, s := range []*portal.Site{s1, s2} {
		_, err := db.GetSite(ctx, s.ID)
		wantCode(t, "GetSite of a deleted organization", err, portal.ENOTFOUND)
	}
	if _, total, err := db.ListSites(ctx, a.ID, portal.Page{Limit: 10, Page: 1}); err != nil || total != 0 {
		t.Fatalf("ListSites(deleted org): total %d, %v", total, err)
	}
	privs, err := db.ListPrivileges(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(privs) != 1 || privs[0].ID != pb.ID {
		t.Fatalf("privileges after deleting organization A = %+v, want only %s in B", privs, pb.ID)
	}
	if _, err := db.GetSite(ctx, sb.ID); err != nil {
		t.Fatalf("site of organization B: %v", err)
	}
	if _, err := db.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("user after deleting an organization: %v", err)
	}

	// Deleting a site removes the privileges scoped to it.
	pbs := mkPriv(t, db, u.ID, b.ID, sb.ID, portal.RoleInstaller)
	write(t, db, func(tx *store.Tx) error { return tx.DeleteSite(ctx, sb.ID) })
	privs, err = db.ListPrivileges(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range privs {
		if p.ID == pbs.ID {
			t.Fatal("site privilege kept after its site was deleted")
		}
	}
	if len(privs) != 1 {
		t.Fatalf("privileges = %+v, want the org privilege in B", privs)
	}
}

func testListPrivileges(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "priv@example.com")
	other := mkUser(t, db, "other@example.com")
	beta := mkOrg(t, db, "beta", 600)
	alpha := mkOrg(t, db, "alpha", 600)
	zulu := mkSite(t, db, alpha.ID, "zulu")
	hq := mkSite(t, db, alpha.ID, "hq")
	// Created out of order on purpose.
	pBeta := mkPriv(t, db, u.ID, beta.ID, "", portal.RoleAdmin)
	pZulu := mkPriv(t, db, u.ID, alpha.ID, zulu.ID, portal.RoleInstaller)
	pHQ := mkPriv(t, db, u.ID, alpha.ID, hq.ID, portal.RoleHelpdesk)
	pAlpha := mkPriv(t, db, u.ID, alpha.ID, "", portal.RoleRead)
	mkPriv(t, db, other.ID, alpha.ID, "", portal.RoleAdmin)

	got, err := db.ListPrivileges(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// By organization name; in an organization the org-scoped privilege
	// first, then sites by name.
	want := []*portal.Privilege{
		{ID: pAlpha.ID, UserID: u.ID, OrgID: alpha.ID, Scope: portal.ScopeOrg, Role: portal.RoleRead, OrgName: "alpha"},
		{ID: pHQ.ID, UserID: u.ID, OrgID: alpha.ID, SiteID: hq.ID, Scope: portal.ScopeSite, Role: portal.RoleHelpdesk, OrgName: "alpha", SiteName: "hq"},
		{ID: pZulu.ID, UserID: u.ID, OrgID: alpha.ID, SiteID: zulu.ID, Scope: portal.ScopeSite, Role: portal.RoleInstaller, OrgName: "alpha", SiteName: "zulu"},
		{ID: pBeta.ID, UserID: u.ID, OrgID: beta.ID, Scope: portal.ScopeOrg, Role: portal.RoleAdmin, OrgName: "beta"},
	}
	if len(got) != len(want) {
		t.Fatalf("ListPrivileges: %d privileges, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("privilege %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
	none, err := db.ListPrivileges(ctx, newID())
	if err != nil || len(none) != 0 {
		t.Fatalf("ListPrivileges(unknown user) = %v, %v", none, err)
	}
}

func testUserSessionExpiry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "expiry@example.com")
	get := func() int {
		t.Helper()
		v, err := db.UserSessionExpiry(ctx, u.ID, portal.DefaultSessionExpiry)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != portal.DefaultSessionExpiry {
		t.Fatalf("no organization: %d, want the default %d", v, portal.DefaultSessionExpiry)
	}
	a := mkOrg(t, db, "A", 600)
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	if v := get(); v != 600 {
		t.Fatalf("one organization: %d, want 600", v)
	}
	b := mkOrg(t, db, "B", 30)
	mkPriv(t, db, u.ID, b.ID, "", portal.RoleRead)
	if v := get(); v != 30 {
		t.Fatalf("two organizations: %d, want the shorter 30", v)
	}
	c := mkOrg(t, db, "C", 20) // site access counts too
	mkPriv(t, db, u.ID, c.ID, mkSite(t, db, c.ID, "s").ID, portal.RoleHelpdesk)
	if v := get(); v != 20 {
		t.Fatalf("with a site privilege: %d, want 20", v)
	}
	// Another user's organizations do not count.
	d := mkOrg(t, db, "D", 10)
	mkPriv(t, db, mkUser(t, db, "x@example.com").ID, d.ID, "", portal.RoleAdmin)
	if v := get(); v != 20 {
		t.Fatalf("after another user's organization: %d, want 20", v)
	}
	if v, err := db.UserSessionExpiry(ctx, u.ID, 99); err != nil || v != 20 {
		t.Fatalf("with another default: %d, %v", v, err)
	}
}

// ---- sessions ----

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

// ---- e-mail tokens ----

func mkToken(t *testing.T, db *store.DB, userID, purpose string, created time.Time, ttl time.Duration) *store.EmailToken {
	t.Helper()
	tok := &store.EmailToken{ID: newID(), TokenHash: "hash-" + newID(), UserID: userID, Purpose: purpose,
		Email: "new@example.com", Created: created, Expires: created.Add(ttl)}
	write(t, db, func(tx *store.Tx) error { return tx.CreateEmailToken(context.Background(), tok) })
	return tok
}

func testEmailTokenReplace(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "tok@example.com")
	other := mkUser(t, db, "tok2@example.com")
	a := mkToken(t, db, u.ID, "register", t0, time.Hour)
	got, err := db.GetEmailToken(ctx, a.TokenHash, "register")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("GetEmailToken = %+v\nwant %+v", got, a)
	}
	_, err = db.GetEmailToken(ctx, a.TokenHash, "change_email")
	wantCode(t, "GetEmailToken(other purpose)", err, portal.ENOTFOUND)
	_, err = db.GetEmailToken(ctx, "unknown", "register")
	wantCode(t, "GetEmailToken(unknown)", err, portal.ENOTFOUND)

	c := mkToken(t, db, u.ID, "change_email", t0, time.Hour)
	o := mkToken(t, db, other.ID, "register", t0, time.Hour)
	b := mkToken(t, db, u.ID, "register", t0.Add(time.Minute), time.Hour)
	_, err = db.GetEmailToken(ctx, a.TokenHash, "register")
	wantCode(t, "replaced token", err, portal.ENOTFOUND)
	for _, k := range []*store.EmailToken{b, c, o} {
		if _, err := db.GetEmailToken(ctx, k.TokenHash, k.Purpose); err != nil {
			t.Fatalf("token %s/%s after replacing the user's register token: %v", k.UserID, k.Purpose, err)
		}
	}
	// A used token is history, not pending: a new one does not remove it.
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, b.ID, t0.Add(2*time.Minute)) })
	d := mkToken(t, db, u.ID, "register", t0.Add(3*time.Minute), time.Hour)
	if got, err := db.GetEmailToken(ctx, b.TokenHash, "register"); err != nil || got.Used.IsZero() {
		t.Fatalf("used token after a new one: %+v, %v", got, err)
	}
	if _, err := db.GetEmailToken(ctx, d.TokenHash, "register"); err != nil {
		t.Fatal(err)
	}

	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateEmailToken(ctx, &store.EmailToken{ID: newID(), TokenHash: o.TokenHash, UserID: u.ID, Purpose: "x", Email: "e", Created: t0, Expires: t0})
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("CreateEmailToken with a taken hash: %v, want ErrDuplicate", err)
	}
}

func testUseEmailToken(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "use@example.com")
	tok := mkToken(t, db, u.ID, "register", t0, time.Hour)
	used := t0.Add(time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, tok.ID, used) })
	got, err := db.GetEmailToken(ctx, tok.TokenHash, "register")
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "Used", got.Used, used)
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, tok.ID, used.Add(time.Second)) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("second UseEmailToken: %v, want ErrTokenSpent", err)
	}
	if got, _ := db.GetEmailToken(ctx, tok.TokenHash, "register"); !got.Used.Equal(used) {
		t.Fatalf("second use moved Used to %v", got.Used)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, newID(), used) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("UseEmailToken(unknown): %v, want ErrTokenSpent", err)
	}
}

func testUseEmailTokenExpiry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "expiry@example.com")
	a := mkToken(t, db, u.ID, "register", t0, time.Hour)
	err := db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, a.ID, a.Expires) })
	if !errors.Is(err, store.ErrTokenSpent) {
		t.Fatalf("UseEmailToken at the expiry instant: %v, want ErrTokenSpent", err)
	}
	if got, _ := db.GetEmailToken(ctx, a.TokenHash, "register"); !got.Used.IsZero() {
		t.Fatal("an expired use marked the token used")
	}
	b := mkToken(t, db, u.ID, "change_email", t0, time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, b.ID, b.Expires.Add(-time.Millisecond)) })
}

func testUseEmailTokenConcurrent(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "race@example.com")
	tok := mkToken(t, db, u.ID, "register", t0, time.Hour)
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Write(ctx, func(tx *store.Tx) error { return tx.UseEmailToken(ctx, tok.ID, t0.Add(time.Minute)) })
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrTokenSpent):
		default:
			t.Errorf("goroutine %d: %v (want success or ErrTokenSpent)", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", ok, n)
	}
}

// ---- outbox ----

func mkMail(i int, created time.Time) *portal.OutboxMessage {
	return &portal.OutboxMessage{ID: newID(), To: fmt.Sprintf("user%d@example.com", i), Subject: fmt.Sprintf("Subject %d é", i),
		Text: fmt.Sprintf("text %d", i), HTML: fmt.Sprintf("<p>html %d</p>", i), CreatedTime: created}
}

func enqueue(t *testing.T, db *store.DB, m *portal.OutboxMessage) {
	t.Helper()
	write(t, db, func(tx *store.Tx) error { return tx.EnqueueMail(context.Background(), m) })
}

func pending(t *testing.T, db *store.DB) int {
	t.Helper()
	n, err := db.PendingMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func claim(t *testing.T, ob store.Outbox, now time.Time, lease time.Duration, limit int) []portal.OutboxMessage {
	t.Helper()
	got, err := ob.ClaimDue(context.Background(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDue(%v): %v", now, err)
	}
	return got
}

func ids(msgs []portal.OutboxMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func testEnqueueRollback(t *testing.T, db *store.DB) {
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.EnqueueMail(ctx, mkMail(1, t0)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
	if n := pending(t, db); n != 0 {
		t.Fatalf("PendingMail = %d after a rolled-back EnqueueMail", n)
	}
	if got := claim(t, store.Outbox{DB: db}, t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %d messages of a rolled-back transaction", len(got))
	}
	m := mkMail(2, t0)
	enqueue(t, db, m)
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d, want 1", n)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.EnqueueMail(ctx, m) })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("EnqueueMail with a taken id: %v, want ErrDuplicate", err)
	}
}

func testClaimDue(t *testing.T, db *store.DB) {
	ob := store.Outbox{DB: db}
	m1, m2, m3 := mkMail(1, t0), mkMail(2, t0.Add(time.Second)), mkMail(3, t0.Add(2*time.Second))
	for _, m := range []*portal.OutboxMessage{m3, m1, m2} {
		enqueue(t, db, m)
	}
	if n := pending(t, db); n != 3 {
		t.Fatalf("PendingMail = %d, want 3", n)
	}
	lease := time.Minute
	if got := claim(t, ob, t0.Add(-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed %v before anything was due", ids(got))
	}
	// Due messages, oldest first, up to the limit.
	now := t0.Add(time.Second)
	got := claim(t, ob, now, lease, 1)
	if len(got) != 1 || got[0].ID != m1.ID {
		t.Fatalf("ClaimDue(limit 1) = %v, want [%s]", ids(got), m1.ID)
	}
	want := *m1
	want.Attempts = 1
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("claimed message = %+v\nwant %+v", got[0], want)
	}
	got = claim(t, ob, now, lease, 10)
	if len(got) != 1 || got[0].ID != m2.ID || got[0].Attempts != 1 {
		t.Fatalf("ClaimDue = %+v, want m2 only (m1 is leased, m3 not due)", got)
	}
	got = claim(t, ob, t0.Add(2*time.Second), lease, 10)
	if len(got) != 1 || got[0].ID != m3.ID {
		t.Fatalf("ClaimDue = %v, want m3 only", ids(got))
	}
	// Leased messages are not claimed again before the lease ends…
	if got := claim(t, ob, now.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed leased messages %v", ids(got))
	}
	if n := pending(t, db); n != 3 {
		t.Fatalf("PendingMail = %d while leased, want 3", n)
	}
	// …and are claimed again once it has (a crashed sender), counting the attempt.
	got = claim(t, ob, now.Add(lease), lease, 10)
	if !reflect.DeepEqual(ids(got), []string{m1.ID, m2.ID}) {
		t.Fatalf("after the lease: %v, want m1 and m2", ids(got))
	}
	for _, m := range got {
		if m.Attempts != 2 {
			t.Errorf("%s: Attempts = %d, want 2", m.ID, m.Attempts)
		}
	}
}

func testMarkSentFailed(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ob := store.Outbox{DB: db}
	m1, m2 := mkMail(1, t0), mkMail(2, t0)
	enqueue(t, db, m1)
	enqueue(t, db, m2)
	lease := time.Minute
	if got := claim(t, ob, t0, lease, 10); len(got) != 2 {
		t.Fatalf("claimed %d, want 2", len(got))
	}
	if err := ob.MarkSent(ctx, m1.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d after MarkSent, want 1", n)
	}
	next := t0.Add(10 * time.Minute)
	if err := ob.MarkFailed(ctx, m2.ID, next, "451 try later"); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d after MarkFailed, want 1", n)
	}
	// The failed message waits for its next attempt even though its lease
	// was released; the sent one never comes back.
	if got := claim(t, ob, next.Add(-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the next attempt", ids(got))
	}
	got := claim(t, ob, next, lease, 10)
	if len(got) != 1 || got[0].ID != m2.ID || got[0].Attempts != 2 {
		t.Fatalf("at the next attempt: %+v, want m2 with 2 attempts", got)
	}
	if err := ob.MarkSent(ctx, m2.ID, next); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 0 {
		t.Fatalf("PendingMail = %d, want 0", n)
	}
	if got := claim(t, ob, next.Add(24*time.Hour), lease, 10); len(got) != 0 {
		t.Fatalf("sent messages claimed again: %v", ids(got))
	}
}

func testClaimConcurrent(t *testing.T, db *store.DB) {
	const msgs, workers = 40, 8
	for i := range msgs {
		enqueue(t, db, mkMail(i, t0))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]int{}
		start   = make(chan struct{})
	)
	for range workers {
		wg.Go(func() {
			<-start
			for {
				got, err := store.Outbox{DB: db}.ClaimDue(context.Background(), t0, time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					claimed[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(claimed) != msgs {
		t.Errorf("%d messages claimed, want %d", len(claimed), msgs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %s claimed %d times under one lease", id, n)
		}
	}
}

// ---- audit ----

func mkAudit(t *testing.T, db *store.DB, admin, org string, ts time.Time, msg string) *portal.AuditEntry {
	t.Helper()
	e := &portal.AuditEntry{ID: newID(), Timestamp: ts, AdminID: admin, AdminName: "Admin " + admin[:4], OrgID: org, SiteID: portal.NilID,
		Message: msg, SrcIP: "198.51.100.7"}
	write(t, db, func(tx *store.Tx) error { return tx.InsertAudit(context.Background(), e) })
	return e
}

func auditMessages(es []*portal.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Message)
	}
	return out
}

func testAudit(t *testing.T, db *store.DB) {
	ctx := context.Background()
	adminA, adminB, org := newID(), newID(), newID()
	for i := range 5 {
		mkAudit(t, db, adminA, org, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("a-org-%d", i))
	}
	mkAudit(t, db, adminB, org, t0.Add(5*time.Second), "b-org-5")
	mkAudit(t, db, adminA, portal.NilID, t0.Add(6*time.Second), "a-nil-6")
	mkAudit(t, db, adminA, org, t0.Add(-time.Second), "before-range")

	list := func(q store.AuditQuery) ([]string, int) {
		t.Helper()
		if q.Start.IsZero() {
			q.Start = t0
		}
		if q.End.IsZero() {
			q.End = t0.Add(time.Minute)
		}
		if q.Page.Limit == 0 {
			q.Page = portal.Page{Limit: 100, Page: 1}
		}
		es, total, err := db.ListAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return auditMessages(es), total
	}
	check := func(what string, q store.AuditQuery, want []string, wantTotal int) {
		t.Helper()
		got, total := list(q)
		if !reflect.DeepEqual(got, want) || total != wantTotal {
			t.Errorf("%s: %v (total %d), want %v (total %d)", what, got, total, want, wantTotal)
		}
	}
	check("admin A, newest first", store.AuditQuery{AdminID: adminA},
		[]string{"a-nil-6", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 6)
	check("organization", store.AuditQuery{OrgID: org},
		[]string{"b-org-5", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 6)
	check("admin A in the organization", store.AuditQuery{AdminID: adminA, OrgID: org},
		[]string{"a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 5)
	check("admin B", store.AuditQuery{AdminID: adminB}, []string{"b-org-5"}, 1)
	check("no filter", store.AuditQuery{}, []string{"a-nil-6", "b-org-5", "a-org-4", "a-org-3", "a-org-2", "a-org-1", "a-org-0"}, 7)
	check("[start, end) includes start, excludes end", store.AuditQuery{AdminID: adminA, Start: t0.Add(time.Second), End: t0.Add(3 * time.Second)},
		[]string{"a-org-2", "a-org-1"}, 2)
	check("paging", store.AuditQuery{AdminID: adminA, Page: portal.Page{Limit: 4, Page: 2}}, []string{"a-org-1", "a-org-0"}, 6)
	check("past the last page", store.AuditQuery{AdminID: adminA, Page: portal.Page{Limit: 4, Page: 3}}, nil, 6)
	check("unknown admin", store.AuditQuery{AdminID: newID()}, nil, 0)
}

func testAuditJSON(t *testing.T, db *store.DB) {
	ctx := context.Background()
	e := &portal.AuditEntry{ID: newID(), Timestamp: t0.Add(1234 * time.Millisecond), AdminID: newID(), AdminName: "Zoë O'Brien",
		OrgID: newID(), SiteID: newID(), Message: `Updated "site" <hq>`, SrcIP: "2001:db8::1",
		Before: map[string]any{"name": "old", "session_expiry": float64(1440), "enabled": false, "tags": []any{"a", "b"}, "none": nil},
		After:  map[string]any{"name": "new ✓", "nested": map[string]any{"k": "v"}}}
	f := &portal.AuditEntry{ID: newID(), Timestamp: t0, AdminID: e.AdminID, AdminName: "x", OrgID: portal.NilID, SiteID: portal.NilID, Message: "no details"}
	write(t, db, func(tx *store.Tx) error {
		if err := tx.InsertAudit(ctx, e); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, f)
	})
	got, total, err := db.ListAudit(ctx, store.AuditQuery{AdminID: e.AdminID, Start: t0, End: t0.Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(got) != 2 {
		t.Fatalf("ListAudit: %d entries (total %d), want 2", len(got), total)
	}
	if !reflect.DeepEqual(got[0], e) {
		t.Errorf("entry with details = %+v\nwant %+v", got[0], e)
	}
	if !reflect.DeepEqual(got[1], f) {
		t.Errorf("entry without details = %+v\nwant %+v", got[1], f)
	}
}

// ---- throttle ----

func record(t *testing.T, db *store.DB, key string, now time.Time, window time.Duration) int {
	t.Helper()
	var n int
	write(t, db, func(tx *store.Tx) (err error) {
		n, err = tx.CountEvent(context.Background(), key, now, window)
		return err
	})
	return n
}

func testThrottleWindow(t *testing.T, db *store.DB) {
	const w = 15 * time.Minute
	steps := []struct {
		at   time.Duration
		want int
	}{
		{0, 1},
		{time.Minute, 2},
		{14 * time.Minute, 3},
		{w, 4},                    // window_start == now-window: still the same window
		{w + time.Millisecond, 1}, // the window has passed: counting starts again
		{w + 2*time.Minute, 2},
		{2*w + time.Millisecond, 3},
		{2*w + 2*time.Millisecond, 1},
	}
	for _, s := range steps {
		if n := record(t, db, "login:acct:a@example.com", t0.Add(s.at), w); n != s.want {
			t.Fatalf("CountEvent at +%v = %d, want %d", s.at, n, s.want)
		}
	}
	if n := record(t, db, "login:ip:192.0.2.1", t0.Add(2*w+2*time.Millisecond), w); n != 1 {
		t.Fatalf("another key: %d, want 1 (keys are independent)", n)
	}
}

func testThrottleLock(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const w = 15 * time.Minute
	locked := func(keys ...string) time.Time {
		t.Helper()
		v, err := db.LockedUntil(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := locked("a", "b"); !v.IsZero() {
		t.Fatalf("LockedUntil with no rows = %v, want zero", v)
	}
	if v := locked(); !v.IsZero() {
		t.Fatalf("LockedUntil() = %v, want zero", v)
	}
	record(t, db, "a", t0, w)
	record(t, db, "b", t0, w)
	if v := locked("a", "b"); !v.IsZero() {
		t.Fatalf("LockedUntil after failures only = %v, want zero", v)
	}
	ua, ub := t0.Add(time.Minute), t0.Add(15*time.Minute)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, "a", ua) })
	wantTime(t, "LockedUntil(a)", locked("a"), ua)
	wantTime(t, "LockedUntil(a, c)", locked("a", "c"), ua)
	write(t, db, func(tx *store.Tx) error { return tx.Lock(ctx, "b", ub) })
	wantTime(t, "LockedUntil(a, b) (the latest)", locked("a", "b"), ub)
	wantTime(t, "LockedUntil(b, a) (the latest)", locked("b", "a"), ub)
	// Further failures keep the lock.
	record(t, db, "a", t0.Add(time.Second), w)
	wantTime(t, "LockedUntil(a) after another failure", locked("a"), ua)

	write(t, db, func(tx *store.Tx) error { return tx.ResetLimit(ctx, "a") })
	if v := locked("a"); !v.IsZero() {
		t.Fatalf("LockedUntil(a) after reset = %v", v)
	}
	if n := record(t, db, "a", t0.Add(2*time.Second), w); n != 1 {
		t.Fatalf("failures after reset = %d, want 1", n)
	}
	wantTime(t, "LockedUntil(b) after resetting a", locked("b"), ub)
	write(t, db, func(tx *store.Tx) error { return tx.ResetLimit(ctx, "never-seen") })
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
		t.Fatalf("throttle of a rolled-back transaction kept: %d failures", n)
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
		if v, err := tx.UserSessionExpiry(ctx, u.ID, 1); err != nil || v != 42 {
			return fmt.Errorf("UserSessionExpiry in the transaction: %d, %v", v, err)
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
