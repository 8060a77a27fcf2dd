package app

import (
	"testing"

	"portal"
	"portal/internal/store"
)

// TestRaises: what counts as raising one's own role or widening one's
// own site access.
func TestRaises(t *testing.T) {
	org := func(role string) Grant { return Grant{Role: role} }
	sites := func(role string, ids ...string) Grant {
		g := Grant{Role: role}
		for _, id := range ids {
			g.Sites = append(g.Sites, store.SiteRef{ID: id})
		}
		return g
	}
	for _, tc := range []struct {
		from, to Grant
		want     bool
	}{
		{org(portal.RoleAdmin), org(portal.RoleAdmin), false},
		{org(portal.RoleAdmin), org(portal.RoleRead), false},
		{org(portal.RoleAdmin), sites(portal.RoleWrite, "a"), false},
		{org(portal.RoleWrite), org(portal.RoleInstaller), false},
		{org(portal.RoleWrite), org(portal.RoleAdmin), true},
		{org(portal.RoleRead), org(portal.RoleHelpdesk), false},
		{org(portal.RoleRead), org(portal.RoleInstaller), true}, // installers change inventory
		{org(portal.RoleHelpdesk), org(portal.RoleInstaller), true},
		{org(portal.RoleInstaller), org(portal.RoleRead), true},
		{sites(portal.RoleWrite, "a", "b"), sites(portal.RoleWrite, "a"), false},
		{sites(portal.RoleWrite, "a"), sites(portal.RoleWrite, "a", "b"), true},
		{sites(portal.RoleWrite, "a"), org(portal.RoleWrite), true},
		{sites(portal.RoleWrite, "a"), sites(portal.RoleRead, "a"), false},
	} {
		if got := raises(tc.from, tc.to); got != tc.want {
			t.Errorf("raises(%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestGrantDescribe: how a grant reads in the GUI and in mails.
func TestGrantDescribe(t *testing.T) {
	for _, tc := range []struct {
		g                  Grant
		describe, siteCol  string
		scope              string
		privileges, orgLvl int
	}{
		{Grant{Role: portal.RoleRead}, "the whole organization", "Whole organization", portal.ScopeOrg, 1, 1},
		{Grant{Role: portal.RoleWrite, Sites: []store.SiteRef{{ID: "1", Name: "Branch"}, {ID: "2", Name: "HQ"}}}, "Branch, HQ", "Branch, HQ", portal.ScopeSite, 2, 0},
		{Grant{Role: portal.RoleHelpdesk, NoSites: true}, "no site (its sites were deleted)", "No site (its sites were deleted)", portal.ScopeSite, 0, 0},
	} {
		privs := privilegesOf(tc.g, "u", "o", "Acme")
		orgLvl := 0
		for _, p := range privs {
			if p.Scope == portal.ScopeOrg {
				orgLvl++
			}
		}
		if tc.g.Describe() != tc.describe || tc.g.SiteAccess() != tc.siteCol || tc.g.Scope() != tc.scope || len(privs) != tc.privileges || orgLvl != tc.orgLvl {
			t.Errorf("%+v: %q %q %s %d privileges (%d org)", tc.g, tc.g.Describe(), tc.g.SiteAccess(), tc.g.Scope(), len(privs), orgLvl)
		}
	}
}
