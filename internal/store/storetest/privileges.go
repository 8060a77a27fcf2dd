package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

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

// testOrgMembers: members with their privileges in one organization, the
// Super User count, the org lock, and removing a member's privileges.
func testOrgMembers(t *testing.T, db *store.DB) {
	ctx := t.Context()
	org := mkOrg(t, db, "Acme", 600)
	other := mkOrg(t, db, "Other", 600)
	hq := mkSite(t, db, org.ID, "HQ")
	branch := mkSite(t, db, org.ID, "Branch")
	ann := mkUser(t, db, "ann@example.com")
	bob := mkUser(t, db, "bob@example.com")
	cat := mkUser(t, db, "cat@example.com")
	mkPriv(t, db, ann.ID, org.ID, "", portal.RoleAdmin)
	mkPriv(t, db, bob.ID, org.ID, hq.ID, portal.RoleWrite)
	mkPriv(t, db, bob.ID, org.ID, branch.ID, portal.RoleWrite)
	mkPriv(t, db, bob.ID, other.ID, "", portal.RoleAdmin)
	mkPriv(t, db, cat.ID, other.ID, "", portal.RoleAdmin)

	members, err := db.ListOrgMembers(ctx, org.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("ListOrgMembers = %+v, %v", members, err)
	}
	byID := map[string]*store.Member{}
	for _, m := range members {
		byID[m.UserID] = m
	}
	if m := byID[ann.ID]; m == nil || m.Email != "ann@example.com" || len(m.Privileges) != 1 || m.Privileges[0].Role != portal.RoleAdmin ||
		m.Privileges[0].Scope != portal.ScopeOrg || m.Privileges[0].OrgName != "Acme" {
		t.Errorf("ann = %+v", m)
	}
	if m := byID[bob.ID]; m == nil || len(m.Privileges) != 2 || m.Privileges[0].SiteName != "Branch" || m.Privileges[1].SiteName != "HQ" || m.Privileges[1].SiteID != hq.ID {
		t.Errorf("bob's privileges in Acme = %+v, want Branch and HQ", m)
	}

	if n, err := db.CountOrgAdmins(ctx, org.ID); err != nil || n != 1 {
		t.Errorf("CountOrgAdmins = %d, %v; want 1", n, err)
	}
	if n, err := db.CountOrgAdmins(ctx, other.ID); err != nil || n != 2 {
		t.Errorf("CountOrgAdmins(other) = %d, %v; want 2", n, err)
	}
	write(t, db, func(tx *store.Tx) error { return tx.LockOrg(ctx, org.ID) })
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.LockOrg(ctx, newID()) })
	wantCode(t, "lock unknown org", err, portal.ENOTFOUND)

	var n int64
	write(t, db, func(tx *store.Tx) error {
		var err error
		n, err = tx.DeleteOrgPrivileges(ctx, org.ID, bob.ID)
		return err
	})
	if n != 2 {
		t.Errorf("DeleteOrgPrivileges removed %d, want 2", n)
	}
	privs, err := db.ListPrivileges(ctx, bob.ID)
	if err != nil || len(privs) != 1 || privs[0].OrgID != other.ID {
		t.Errorf("bob's privileges after removal from Acme = %+v, %v", privs, err)
	}
}

// testUserAccess: one statement gives the user's privileges and, once per
// organization and by name, its terms and when the user joined it (their
// earliest privilege there); the derived policies, two-factor
// requirements and session limits are those of these organizations.
func testUserAccess(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "access@example.com")
	beta := mkOrg(t, db, "beta", 600)
	alpha := &portal.Org{ID: newID(), Name: "alpha", SessionExpiry: 90, SessionMaxLifetime: 7, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, alpha) })
	hq := mkSite(t, db, alpha.ID, "hq")
	priv := func(orgID, siteID string, at time.Time) {
		p := &portal.Privilege{ID: newID(), UserID: u.ID, OrgID: orgID, SiteID: siteID, Scope: portal.ScopeOrg, Role: portal.RoleRead}
		if siteID != "" {
			p.Scope = portal.ScopeSite
		}
		write(t, db, func(tx *store.Tx) error { return tx.CreatePrivilege(ctx, p, at.UnixMilli()) })
	}
	// In alpha, the site privilege is the older: it says when u joined.
	priv(alpha.ID, "", t0.Add(2*time.Hour))
	priv(alpha.ID, hq.ID, t0.Add(time.Hour))
	priv(beta.ID, "", t0.Add(3*time.Hour))
	mkPriv(t, db, mkUser(t, db, "else@example.com").ID, mkOrg(t, db, "aardvark", 5).ID, "", portal.RoleAdmin) // not u's
	policy := portal.PasswordPolicy{Enabled: true, MinLength: 12, RequiresTwoFactorAuth: true, TwoFactorGraceDays: 2}
	write(t, db, func(tx *store.Tx) error {
		if err := tx.SetOrgPasswordPolicy(ctx, beta.ID, policy, t0); err != nil {
			return err
		}
		return tx.SetOrgTwoFactorRequiredAt(ctx, beta.ID, t0.Add(4*time.Hour))
	})

	a, err := db.UserAccess(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Privileges) != 3 || a.Privileges[0].OrgID != alpha.ID || a.Privileges[0].SiteID != "" ||
		a.Privileges[1].SiteName != "hq" || a.Privileges[2].OrgID != beta.ID {
		t.Errorf("privileges = %+v, want alpha's (org, then hq), then beta's", a.Privileges)
	}
	def, err := db.GetOrgPasswordPolicy(ctx, alpha.ID) // alpha never set one
	if err != nil {
		t.Fatal(err)
	}
	want := []store.OrgTerms{
		{OrgID: alpha.ID, OrgName: "alpha", Policy: def, SessionExpiry: 90, SessionMaxLifetime: 7, JoinedAt: t0.Add(time.Hour)},
		{OrgID: beta.ID, OrgName: "beta", Policy: policy, SessionExpiry: 600, SessionMaxLifetime: portal.DefaultSessionMaxLifetime,
			TwoFactorRequiredAt: t0.Add(4 * time.Hour), JoinedAt: t0.Add(3 * time.Hour)},
	}
	if len(a.Orgs) != len(want) {
		t.Fatalf("organizations = %+v, want %+v", a.Orgs, want)
	}
	for i := range want {
		g, w := a.Orgs[i], want[i]
		if g.OrgID != w.OrgID || g.OrgName != w.OrgName || g.Policy != w.Policy || g.SessionExpiry != w.SessionExpiry ||
			g.SessionMaxLifetime != w.SessionMaxLifetime || !g.TwoFactorRequiredAt.Equal(w.TwoFactorRequiredAt) || !g.JoinedAt.Equal(w.JoinedAt) {
			t.Errorf("organization %d = %+v\nwant %+v", i, g, w)
		}
	}
	if p := a.Policies(); len(p) != 2 || p[0].OrgID != alpha.ID || p[1].Policy != policy {
		t.Errorf("policies = %+v", p)
	}
	if r := a.TwoFactorRequirements(); len(r) != 1 || r[0].OrgID != beta.ID || r[0].GraceDays != 2 || !r[0].JoinedAt.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("two-factor requirements = %+v, want beta's", r)
	}
	if e, m := a.SessionLimits(1, 1); e != 90 || m != 7 {
		t.Errorf("session limits = %d minutes, %d days, want the shortest: 90, 7", e, m)
	}
	none, err := db.UserAccess(ctx, newID())
	if err != nil || len(none.Privileges) != 0 || len(none.Orgs) != 0 {
		t.Fatalf("UserAccess(unknown user) = %+v, %v", none, err)
	}
	if e, m := none.SessionLimits(11, 12); e != 11 || m != 12 {
		t.Errorf("session limits of no organization = %d, %d, want the defaults 11, 12", e, m)
	}
}
