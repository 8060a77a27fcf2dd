package app

import (
	"context"
	"slices"
	"strings"

	"portal"
)

// Access control, in one place: what each role may do in an organization.
//
// A privilege gives a user one role in one organization, either for the
// whole organization (org scope) or for one site of it (site scope). Every
// service method that touches an organization or a site asks authorize or
// authorizeSite for one Action; the grants table below decides. Callers
// that are not members of the organization (or cannot see the site) get
// not-found, so nothing reveals that it exists; members without the right
// get forbidden, with a message naming the roles that have it.

// Action is something a member may do in an organization or on a site.
type Action string

const (
	// ActViewOrg: see the organization's name and basic settings (every member).
	ActViewOrg Action = "view_org"
	// ActManageOrg: change or delete the organization, read and change its
	// settings (password policy), manage administrators and invitations.
	ActManageOrg Action = "manage_org"
	// ActViewSite: see a site.
	ActViewSite Action = "view_site"
	// ActCreateSite: add sites to the organization.
	ActCreateSite Action = "create_site"
	// ActUpdateSite: change a site.
	ActUpdateSite Action = "update_site"
	// ActDeleteSite: delete a site.
	ActDeleteSite Action = "delete_site"
	// ActViewInventory: see the devices of a site (or of the organization).
	ActViewInventory Action = "view_inventory"
	// ActManageInventory: add, assign and remove devices of a site.
	ActManageInventory Action = "manage_inventory"
	// ActViewAuditLogs: read the audit log of a site; a Super User of the
	// whole organization reads all of it (orglogs.go).
	ActViewAuditLogs Action = "view_audit_logs"
)

// actionInfo describes each action for messages: what it is, and whether
// it applies to one site (site-scoped privileges grant it on their sites).
var actionInfo = map[Action]struct {
	what   string // completes "you cannot …"
	onSite bool
}{
	ActViewOrg:         {"see this organization", false},
	ActManageOrg:       {"manage this organization (its settings, password policy and administrators)", false},
	ActViewSite:        {"see this site", true},
	ActCreateSite:      {"create sites in this organization", false},
	ActUpdateSite:      {"change this site", true},
	ActDeleteSite:      {"delete this site", true},
	ActViewInventory:   {"see this inventory", true},
	ActManageInventory: {"change this inventory", true},
	ActViewAuditLogs:   {"see this organization's audit logs", true},
}

// roleOrder is the order in which roles are named in messages.
var roleOrder = []string{portal.RoleAdmin, portal.RoleWrite, portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller}

// grants is the table of rights. org lists what a role may do with
// organization scope: in the whole organization and on all its sites. site
// lists what it may do with site scope: a site action only on the
// privilege's own site, an organization action (such as ActViewOrg) in the
// organization of that site.
//
//   - Super User (admin): everything in the organization; on its sites,
//     everything a site allows.
//   - Network Admin (write): read and change sites and inventory (with org
//     scope also create and delete sites), never members or settings.
//   - Observer (read) and Helpdesk (helpdesk): read only.
//   - Installer (installer): its sites and their inventory, nothing else.
var grants = map[string]struct{ org, site []Action }{
	portal.RoleAdmin: {
		org:  []Action{ActViewOrg, ActManageOrg, ActViewSite, ActCreateSite, ActUpdateSite, ActDeleteSite, ActViewInventory, ActManageInventory, ActViewAuditLogs},
		site: []Action{ActViewOrg, ActViewSite, ActUpdateSite, ActDeleteSite, ActViewInventory, ActManageInventory, ActViewAuditLogs},
	},
	portal.RoleWrite: {
		org:  []Action{ActViewOrg, ActViewSite, ActCreateSite, ActUpdateSite, ActDeleteSite, ActViewInventory, ActManageInventory, ActViewAuditLogs},
		site: []Action{ActViewOrg, ActViewSite, ActUpdateSite, ActViewInventory, ActManageInventory, ActViewAuditLogs},
	},
	portal.RoleRead: {
		org:  []Action{ActViewOrg, ActViewSite, ActViewInventory},
		site: []Action{ActViewOrg, ActViewSite, ActViewInventory},
	},
	portal.RoleHelpdesk: {
		org:  []Action{ActViewOrg, ActViewSite, ActViewInventory},
		site: []Action{ActViewOrg, ActViewSite, ActViewInventory},
	},
	portal.RoleInstaller: {
		org:  []Action{ActViewOrg, ActViewSite, ActViewInventory, ActManageInventory},
		site: []Action{ActViewOrg, ActViewSite, ActViewInventory, ActManageInventory},
	},
}

// RoleGrants reports whether role, with the scope (portal.ScopeOrg or
// portal.ScopeSite), grants act. Unknown roles grant nothing.
func RoleGrants(role, scope string, act Action) bool {
	g, ok := grants[role]
	if !ok {
		return false
	}
	if scope == portal.ScopeOrg {
		return slices.Contains(g.org, act)
	}
	return slices.Contains(g.site, act)
}

// access is what one user may do in one organization: their privileges
// there. A user has at most one org-scoped privilege and one per site.
type access struct {
	orgRole   string            // role with org scope, "" if none
	siteRoles map[string]string // site id → role, for site-scoped privileges
}

func (a access) member() bool { return a.orgRole != "" || len(a.siteRoles) > 0 }

// isAdmin reports a Super User of the whole organization.
func (a access) isAdmin() bool { return a.can(ActManageOrg, "") }

// canSeeSite reports whether the user sees a site of the organization.
func (a access) canSeeSite(siteID string) bool { return a.can(ActViewSite, siteID) }

// can reports whether the privileges allow act. For a site action, siteID
// names the site; for an organization action it is "" (a site-scoped
// privilege then counts when its role grants act with site scope).
func (a access) can(act Action, siteID string) bool {
	if a.orgRole != "" && RoleGrants(a.orgRole, portal.ScopeOrg, act) {
		return true
	}
	if siteID != "" {
		role, ok := a.siteRoles[siteID]
		return ok && RoleGrants(role, portal.ScopeSite, act)
	}
	if actionInfo[act].onSite {
		return false // a site action needs its site
	}
	for _, role := range a.siteRoles {
		if RoleGrants(role, portal.ScopeSite, act) {
			return true
		}
	}
	return false
}

// require returns nil when the privileges allow act, else a forbidden
// error that names the roles that would.
func (a access) require(act Action, siteID string) error {
	if a.can(act, siteID) {
		return nil
	}
	return a.forbidden(act, siteID, "you cannot "+actionInfo[act].what, true)
}

// forbidden is the refusal of act: lead, then (when explain is set) the
// roles that may do it, and the caller's own role. The body carries
// "required_roles" (Mist role values).
func (a access) forbidden(act Action, siteID, lead string, explain bool) error {
	var orgRoles, siteRoles []string
	for _, r := range roleOrder {
		if RoleGrants(r, portal.ScopeOrg, act) {
			orgRoles = append(orgRoles, r)
		}
		if RoleGrants(r, portal.ScopeSite, act) {
			siteRoles = append(siteRoles, r)
		}
	}
	where := "for the whole organization"
	switch {
	case len(siteRoles) == 0:
	case slices.Equal(orgRoles, siteRoles) && actionInfo[act].onSite:
		where = "for the whole organization or for this site"
	case slices.Equal(orgRoles, siteRoles):
		where = "for the whole organization or one of its sites"
	}
	msg := lead
	if explain {
		msg += ": that requires the role " + roleList(orgRoles) + " " + where
		if len(siteRoles) > 0 && !slices.Equal(orgRoles, siteRoles) {
			msg += ", or " + roleList(siteRoles) + " for this site"
		}
	}
	if mine := a.roleFor(siteID); mine != "" {
		msg += " (your role: " + mine + ")"
	}
	required := slices.Clone(orgRoles)
	for _, r := range siteRoles {
		if !slices.Contains(required, r) {
			required = append(required, r)
		}
	}
	return &portal.Error{Code: portal.EFORBIDDEN, Message: msg, Fields: map[string]any{"required_roles": required}}
}

// roleFor describes the caller's role where act applies: "Observer", or
// "Observer for one site" for site-scoped privileges.
func (a access) roleFor(siteID string) string {
	if a.orgRole != "" {
		return roleName(a.orgRole)
	}
	if r, ok := a.siteRoles[siteID]; ok {
		return roleName(r) + " for this site"
	}
	var names []string
	for _, r := range roleOrder {
		for _, sr := range a.siteRoles {
			if sr == r {
				names = append(names, roleName(r))
				break
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return strings.Join(names, ", ") + " for some of its sites"
}

func roleName(role string) string {
	if n, ok := portal.RoleNames[role]; ok {
		return n
	}
	return role
}

// roleList names roles for a sentence: "Super User or Network Admin".
func roleList(roles []string) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = roleName(r)
	}
	switch len(names) {
	case 0:
		return "(none)"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// accessTo loads the actor's privileges in an organization. A caller with
// none gets not-found, so the organization's existence is not revealed.
func (s *Service) accessTo(ctx context.Context, a *Actor, orgID string) (access, error) {
	privs, err := s.privileges(ctx, a) // authcache.go
	if err != nil {
		return access{}, err
	}
	acc := access{siteRoles: map[string]string{}}
	for _, p := range privs {
		if p.OrgID != orgID {
			continue
		}
		if p.Scope == portal.ScopeOrg {
			acc.orgRole = p.Role
		} else {
			acc.siteRoles[p.SiteID] = p.Role
		}
	}
	if !acc.member() {
		return acc, notFound("organization")
	}
	return acc, nil
}

// authorize loads the actor's access to an organization and requires an
// organization action: not-found for a non-member, forbidden for a member
// without the right.
func (s *Service) authorize(ctx context.Context, a *Actor, orgID string, act Action) (access, error) {
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return acc, err
	}
	return acc, acc.require(act, "")
}

// authorizeSite loads a site and requires a site action on it: a site the
// actor cannot see is not found, a visible one without the right forbidden.
func (s *Service) authorizeSite(ctx context.Context, a *Actor, siteID string, act Action) (*portal.Site, access, error) {
	site, err := s.db.GetSite(ctx, siteID)
	if err != nil {
		return nil, access{}, err
	}
	acc, err := s.accessTo(ctx, a, site.OrgID)
	if err != nil || !acc.can(ActViewSite, siteID) {
		return nil, acc, notFound("site")
	}
	if err := acc.require(act, siteID); err != nil {
		return nil, acc, err
	}
	return site, acc, nil
}

// requireAdmin requires a Super User of the whole organization (the right
// to manage it); what completes "only a Super User of the organization
// can …".
func requireAdmin(acc access, what string) error {
	if acc.can(ActManageOrg, "") {
		return nil
	}
	return acc.forbidden(ActManageOrg, "", "only a Super User of the organization can "+what, false)
}

func notFound(what string) error { return portal.Errorf(portal.ENOTFOUND, "%s not found", what) }

// Permissions is what the actor may do in one organization, so that the
// GUI shows only the controls that will work. The service still checks
// every request.
type Permissions struct {
	acc access
}

// Can reports whether act is allowed (on the site, for a site action).
func (p Permissions) Can(act Action, siteID string) bool { return p.acc.can(act, siteID) }

// Role is the actor's role for the whole organization, "" when they only
// have site-scoped privileges.
func (p Permissions) Role() string { return p.acc.orgRole }

// Permissions returns what the actor may do in an organization they belong
// to (not-found otherwise).
func (s *Service) Permissions(ctx context.Context, a *Actor, orgID string) (_ Permissions, err error) {
	defer wrap(&err, "Permissions(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	return Permissions{acc: acc}, err
}
