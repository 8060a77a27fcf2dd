package app

import (
	"slices"
	"testing"

	"portal"
)

// TestAuthzMessages: a refusal names what was refused, the roles that
// would allow it and the caller's own role, with "required_roles".
func TestAuthzMessages(t *testing.T) {
	observer := access{orgRole: portal.RoleRead, siteRoles: map[string]string{}}
	siteWrite := access{siteRoles: map[string]string{"s1": portal.RoleWrite}}
	for _, tc := range []struct {
		acc      access
		act      Action
		site     string
		msg      string
		required []string
	}{
		{observer, ActCreateSite, "", "you cannot create sites in this organization: that requires the role Super User or Network Admin for the whole organization (your role: Observer)",
			[]string{"admin", "write"}},
		{observer, ActUpdateSite, "s1", "you cannot change this site: that requires the role Super User or Network Admin for the whole organization or for this site (your role: Observer)",
			[]string{"admin", "write"}},
		{siteWrite, ActDeleteSite, "s1", "you cannot delete this site: that requires the role Super User or Network Admin for the whole organization, or Super User for this site (your role: Network Admin for this site)",
			[]string{"admin", "write"}},
		{siteWrite, ActManageOrg, "", "you cannot manage this organization (its settings, password policy and administrators): that requires the role Super User for the whole organization (your role: Network Admin for some of its sites)",
			[]string{"admin"}},
	} {
		err := tc.acc.require(tc.act, tc.site)
		e, ok := err.(*portal.Error)
		if !ok || e.Code != portal.EFORBIDDEN || e.Message != tc.msg || !slices.Equal(e.Fields["required_roles"].([]string), tc.required) {
			t.Errorf("%s on %q: %#v", tc.act, tc.site, err)
		}
	}
	err := requireAdmin(observer, "change its settings")
	if e, ok := err.(*portal.Error); !ok || e.Code != portal.EFORBIDDEN || e.Message != "only a Super User of the organization can change its settings (your role: Observer)" {
		t.Errorf("requireAdmin: %#v", err)
	}
	if requireAdmin(access{orgRole: portal.RoleAdmin}, "x") != nil || requireAdmin(access{siteRoles: map[string]string{"s1": portal.RoleAdmin}}, "x") == nil {
		t.Error("requireAdmin: only an org-scoped Super User manages the organization")
	}
}

// TestAuthzSiteScope: a site-scoped privilege acts on its own site only,
// and lets its holder see the organization; unknown roles grant nothing.
func TestAuthzSiteScope(t *testing.T) {
	acc := access{siteRoles: map[string]string{"s1": portal.RoleWrite, "s2": portal.RoleInstaller}}
	for _, c := range []struct {
		act  Action
		site string
		want bool
	}{
		{ActViewOrg, "", true}, {ActViewSite, "s1", true}, {ActViewSite, "s3", false}, {ActUpdateSite, "s1", true},
		{ActUpdateSite, "s2", false}, {ActManageInventory, "s2", true}, {ActDeleteSite, "s1", false}, {ActCreateSite, "", false},
		{ActUpdateSite, "", false}, {ActManageOrg, "", false},
	} {
		if got := acc.can(c.act, c.site); got != c.want {
			t.Errorf("can(%s, %q) = %v, want %v", c.act, c.site, got, c.want)
		}
	}
	if (access{orgRole: "owner"}).can(ActViewOrg, "") {
		t.Error("an unknown role grants something")
	}
	for act := range actionInfo {
		if !RoleGrants(portal.RoleAdmin, portal.ScopeOrg, act) {
			t.Errorf("a Super User cannot %s", act)
		}
	}
}
