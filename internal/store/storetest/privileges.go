package storetest

import (
	"context"
	"reflect"
	"testing"

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
