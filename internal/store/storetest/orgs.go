package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

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

// testUserSessionExpiry: Access.SessionLimits's shortest session_expiry
// (minutes) of the user's organizations, the default without one.
func testUserSessionExpiry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "expiry@example.com")
	get := func() int {
		t.Helper()
		acc, err := db.UserAccess(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := acc.SessionLimits(portal.DefaultSessionExpiry, portal.DefaultSessionMaxLifetime)
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
	acc, err := db.UserAccess(ctx, u.ID)
	if v, m := acc.SessionLimits(99, 98); err != nil || v != 20 || m != portal.DefaultSessionMaxLifetime {
		t.Fatalf("with other defaults: %d, %d, %v, want 20 and the organizations' %d", v, m, err, portal.DefaultSessionMaxLifetime)
	}
}

// testUserSessionMaxLifetime: Access.SessionLimits's shortest
// session_max_lifetime (days) of
// the user's organizations, the default without one; an organization made
// without a value has the default.
func testUserSessionMaxLifetime(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "lifetime@example.com")
	get := func() int {
		t.Helper()
		acc, err := db.UserAccess(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, v := acc.SessionLimits(portal.DefaultSessionExpiry, portal.DefaultSessionMaxLifetime)
		return v
	}
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("no organization: %d, want the default %d", v, portal.DefaultSessionMaxLifetime)
	}
	a := mkOrg(t, db, "A", 600) // without a value: the default
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("one organization with the default: %d", v)
	}
	b := &portal.Org{ID: newID(), Name: "B", SessionExpiry: 600, SessionMaxLifetime: 7, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, b) })
	mkPriv(t, db, u.ID, b.ID, mkSite(t, db, b.ID, "s").ID, portal.RoleHelpdesk) // site access counts too
	if v := get(); v != 7 {
		t.Fatalf("two organizations: %d, want the shorter 7", v)
	}
	// Another user's organizations do not count; an update does.
	c := &portal.Org{ID: newID(), Name: "C", SessionExpiry: 600, SessionMaxLifetime: 1, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, c) })
	mkPriv(t, db, mkUser(t, db, "x@example.com").ID, c.ID, "", portal.RoleAdmin)
	if v := get(); v != 7 {
		t.Fatalf("after another user's organization: %d, want 7", v)
	}
	a.SessionMaxLifetime = 3
	write(t, db, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, a) })
	if v := get(); v != 3 {
		t.Fatalf("after lowering A: %d, want 3", v)
	}
	unknown, err := db.UserAccess(ctx, "no-such-user")
	if e, v := unknown.SessionLimits(98, 99); err != nil || e != 98 || v != 99 {
		t.Fatalf("unknown user: %d, %d, %v, want the defaults given", e, v, err)
	}
}

// testPasswordPolicy: an organization that never set a policy has the
// defaults; a stored policy reads back whole; a user's policies come from
// every organization they have a privilege in (org or site scope), once
// each, by name; an unknown organization is not found.
func testPasswordPolicy(t *testing.T, db *store.DB) {
	ctx := context.Background()
	acme, beta, gamma := mkOrg(t, db, "Acme", 60), mkOrg(t, db, "Beta", 60), mkOrg(t, db, "Gamma", 60)
	p, err := db.GetOrgPasswordPolicy(ctx, acme.ID)
	if err != nil || p != portal.DefaultPasswordPolicy() {
		t.Fatalf("default policy = %+v, %v", p, err)
	}
	want := portal.PasswordPolicy{Enabled: true, MinLength: 12, RequiresSpecialChar: true, RequiresTwoFactorAuth: true,
		ExpiryInDays: 90, HistoryCount: 5, BlockCommon: true, MinCharacterClasses: 3}
	write(t, db, func(tx *store.Tx) error { return tx.SetOrgPasswordPolicy(ctx, acme.ID, want, t0.Add(time.Hour)) })
	if p, err := db.GetOrgPasswordPolicy(ctx, acme.ID); err != nil || p != want {
		t.Errorf("policy = %+v, %v; want %+v", p, err, want)
	}
	if o, err := db.GetOrg(ctx, acme.ID); err != nil || !o.ModifiedTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("org modified time after a policy change: %v %v", o, err)
	}
	if _, err := db.GetOrgPasswordPolicy(ctx, newID()); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unknown org: %v", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.SetOrgPasswordPolicy(ctx, newID(), want, t0) })
	if portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("set on an unknown org: %v", err)
	}

	u := mkUser(t, db, "policies@example.com")
	if list, err := db.UserPasswordPolicies(ctx, u.ID); err != nil || len(list) != 0 {
		t.Errorf("no organization: %v %v", list, err)
	}
	site := mkSite(t, db, beta.ID, "HQ")
	mkPriv(t, db, u.ID, beta.ID, site.ID, portal.RoleHelpdesk)
	mkPriv(t, db, u.ID, acme.ID, "", portal.RoleRead)
	mkPriv(t, db, u.ID, beta.ID, "", portal.RoleRead) // twice in Beta
	mkPriv(t, db, mkUser(t, db, "other@example.com").ID, gamma.ID, "", portal.RoleAdmin)
	list, err := db.UserPasswordPolicies(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range list {
		got = append(got, fmt.Sprintf("%s %v", op.OrgName, op.Policy == want))
	}
	if !slices.Equal(got, []string{"Acme true", "Beta false"}) {
		t.Errorf("user policies = %v", got)
	}
}

func testTwoFactorRequirement(t *testing.T, db *store.DB) {
	ctx := context.Background()
	acme, beta, gamma := mkOrg(t, db, "Acme", 60), mkOrg(t, db, "Beta", 60), mkOrg(t, db, "Gamma", 60)
	u := mkUser(t, db, "member@example.com")
	site := mkSite(t, db, beta.ID, "HQ")
	mkPriv(t, db, u.ID, acme.ID, "", portal.RoleRead)
	mkPriv(t, db, u.ID, beta.ID, site.ID, portal.RoleHelpdesk)
	mkPriv(t, db, u.ID, gamma.ID, "", portal.RoleAdmin)
	policy := func(orgID string, p portal.PasswordPolicy, at time.Time) {
		write(t, db, func(tx *store.Tx) error {
			if err := tx.SetOrgPasswordPolicy(ctx, orgID, p, t0); err != nil {
				return err
			}
			return tx.SetOrgTwoFactorRequiredAt(ctx, orgID, at)
		})
	}
	policy(acme.ID, portal.PasswordPolicy{Enabled: true, MinLength: 8, RequiresTwoFactorAuth: true, TwoFactorGraceDays: 7}, t0.Add(time.Hour))
	policy(beta.ID, portal.PasswordPolicy{Enabled: true, MinLength: 8, RequiresTwoFactorAuth: true}, t0.Add(2*time.Hour))
	// Gamma's policy requires it but is not enabled: it imposes nothing.
	policy(gamma.ID, portal.PasswordPolicy{Enabled: false, MinLength: 8, RequiresTwoFactorAuth: true, TwoFactorGraceDays: 3}, t0.Add(time.Hour))
	got, err := db.UserTwoFactorRequirements(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.TwoFactorRequirement{
		{OrgID: acme.ID, OrgName: "Acme", GraceDays: 7, RequiredAt: t0.Add(time.Hour), JoinedAt: t0},
		{OrgID: beta.ID, OrgName: "Beta", GraceDays: 0, RequiredAt: t0.Add(2 * time.Hour), JoinedAt: t0},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requirements = %+v\nwant %+v", got, want)
	}
	// No longer required: not listed.
	write(t, db, func(tx *store.Tx) error { return tx.SetOrgTwoFactorRequiredAt(ctx, beta.ID, time.Time{}) })
	if got, _ := db.UserTwoFactorRequirements(ctx, u.ID); len(got) != 1 || got[0].OrgID != acme.ID {
		t.Errorf("after Beta stopped requiring it: %+v", got)
	}
	if got, _ := db.UserTwoFactorRequirements(ctx, mkUser(t, db, "nobody@example.com").ID); len(got) != 0 {
		t.Errorf("user in no organization: %+v", got)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.SetOrgTwoFactorRequiredAt(ctx, newID(), t0) })
	wantCode(t, "SetOrgTwoFactorRequiredAt of an unknown organization", err, portal.ENOTFOUND)
}
