package app

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mail"
	"portal/internal/store"
)

// The Administrators page (Organization → Administrators): the members of
// an organization and its open invitations, with their roles and site
// access. Only Super Users see and change it. An organization always keeps
// at least one Super User, and nobody can raise their own role.

// Statuses of the rows of the Administrators page.
const (
	AdminActive        = "active"
	AdminInvitePending = "invite_pending"
	AdminInviteExpired = "invite_expired"
)

// AdminStatusNames are the statuses as the GUI shows them.
var AdminStatusNames = map[string]string{
	AdminActive:        "Active",
	AdminInvitePending: "Invite Pending",
	AdminInviteExpired: "Invite Expired",
}

// Grant is the access a member or an invitation gives in an organization:
// one role, on the whole organization (no Sites) or on some of its sites.
type Grant struct {
	Role  string
	Sites []store.SiteRef // by name; empty: the whole organization
	// NoSites: site-scoped, but every site was deleted (an invitation
	// keeps its scope; it never widens to the whole organization).
	NoSites bool
}

// Scope is portal.ScopeOrg for the whole organization, else portal.ScopeSite.
func (g Grant) Scope() string {
	if len(g.Sites) == 0 && !g.NoSites {
		return portal.ScopeOrg
	}
	return portal.ScopeSite
}

// Describe says where the grant applies: "the whole organization" or the
// site names.
func (g Grant) Describe() string {
	if g.NoSites && len(g.Sites) == 0 {
		return "no site (its sites were deleted)"
	}
	if len(g.Sites) == 0 {
		return "the whole organization"
	}
	names := make([]string, len(g.Sites))
	for i, s := range g.Sites {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// SiteAccess is the Site Access column of the Administrators page.
func (g Grant) SiteAccess() string {
	if len(g.Sites) == 0 && !g.NoSites {
		return "Whole organization"
	}
	d := g.Describe()
	return strings.ToUpper(d[:1]) + d[1:]
}

// SiteIDs returns the ids of the grant's sites.
func (g Grant) SiteIDs() []string {
	ids := make([]string, len(g.Sites))
	for i, s := range g.Sites {
		ids[i] = s.ID
	}
	return ids
}

func (g Grant) equal(o Grant) bool {
	a, b := g.SiteIDs(), o.SiteIDs()
	slices.Sort(a)
	slices.Sort(b)
	return g.Role == o.Role && slices.Equal(a, b)
}

func (g Grant) fields() map[string]any {
	sites := []string{}
	for _, s := range g.Sites {
		sites = append(sites, s.Name)
	}
	return map[string]any{"role": g.Role, "scope": g.Scope(), "sites": sites}
}

// Admin is one row of the Administrators page: a member (UserID set) or an
// open invitation (InviteID set).
type Admin struct {
	UserID    string
	InviteID  string
	OrgID     string
	OrgName   string
	Email     string
	FirstName string
	LastName  string
	Status    string // AdminActive, AdminInvitePending, AdminInviteExpired
	Grant
	// Privileges are a member's privileges in the organization as stored
	// (normally what Grant summarises); for an invitation, what accepting
	// it gives.
	Privileges []*portal.Privilege
	// Invitations only.
	InvitedBy string // name of who sent it last
	Hours     int
	Created   time.Time
	Sent      time.Time
	Expires   time.Time
}

// InviteValidity describes how long an invitation link of the given hours
// is valid ("7 days"); 0 means the default.
func InviteValidity(hours int) string {
	if hours <= 0 {
		hours = DefaultInviteHours
	}
	return validity(hours)
}

// Validity describes how long the links of an invitation are valid.
func (ad *Admin) Validity() string { return InviteValidity(ad.Hours) }

// IsInvite reports an invitation row.
func (ad *Admin) IsInvite() bool { return ad.InviteID != "" }

// ID is the member's user id or the invitation's id.
func (ad *Admin) ID() string { return cmp.Or(ad.UserID, ad.InviteID) }

// StatusName is the status as the GUI shows it.
func (ad *Admin) StatusName() string { return AdminStatusNames[ad.Status] }

// RoleName is the role as the GUI shows it.
func (ad *Admin) RoleName() string { return guiRole(ad.Role) }

// PrivilegeInput is one privilege of a request, in the Mist shape.
type PrivilegeInput struct {
	Scope  string
	Role   string
	OrgID  string // optional; must be the organization's id when given
	SiteID string // site scope only
}

// maxPrivileges bounds the privileges of one request.
const maxPrivileges = 1000

// covers says which roles a role includes: a change of one's own role must
// go to a role the current one covers (Network Admin covers Observer,
// Helpdesk and Installer; Observer covers Helpdesk; Super User all).
var covers = map[string][]string{
	portal.RoleAdmin:     {portal.RoleAdmin, portal.RoleWrite, portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller},
	portal.RoleWrite:     {portal.RoleWrite, portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller},
	portal.RoleRead:      {portal.RoleRead, portal.RoleHelpdesk},
	portal.RoleHelpdesk:  {portal.RoleHelpdesk},
	portal.RoleInstaller: {portal.RoleInstaller},
}

// checkGrant turns requested privileges into a grant in the organization:
// one role; no site (or one privilege with org scope) for the whole
// organization, else one privilege with site scope per site, each a site
// of this organization. A Super User has the whole organization; Helpdesk
// needs at least one site.
func checkGrant(ctx context.Context, r interface {
	GetSite(ctx context.Context, id string) (*portal.Site, error)
}, orgID string, in []PrivilegeInput) (Grant, error) {
	if len(in) == 0 {
		return Grant{}, portal.Errorf(portal.EINVALID, "privileges is required: one privilege with scope org for the whole organization, or one with scope site per site")
	}
	if len(in) > maxPrivileges {
		return Grant{}, portal.Errorf(portal.EINVALID, "privileges must have at most %d items", maxPrivileges)
	}
	var g Grant
	orgScope := false
	seen := map[string]bool{}
	for i, p := range in {
		role := strings.TrimSpace(p.Role)
		if _, ok := portal.RoleNames[role]; !ok {
			if role == "" {
				return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].role is required: one of admin, write, read, helpdesk, installer", i)
			}
			return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].role %q is not a role: use one of admin (Super User), write (Network Admin), read (Observer), helpdesk (Helpdesk), installer (Installer)", i, portal.Truncate(role, 64))
		}
		if g.Role != "" && g.Role != role {
			return Grant{}, portal.Errorf(portal.EINVALID, "all privileges must have the same role: one person has one role in an organization (got %s and %s)", g.Role, role)
		}
		g.Role = role
		if p.OrgID != "" && !sameID(p.OrgID, orgID) {
			return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].org_id must be this organization's id %s, or left out", i, orgID)
		}
		switch strings.TrimSpace(p.Scope) {
		case portal.ScopeOrg:
			if p.SiteID != "" {
				return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d]: a privilege with scope org has no site_id; use scope site for a site", i)
			}
			orgScope = true
		case portal.ScopeSite:
			if p.SiteID == "" {
				return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].site_id is required with scope site", i)
			}
			id, err := uuid.Parse(p.SiteID)
			if err != nil || len(p.SiteID) != 36 {
				return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].site_id %q is not a site id", i, portal.Truncate(p.SiteID, 64))
			}
			site, err := r.GetSite(ctx, id.String())
			if portal.ErrorCode(err) == portal.ENOTFOUND || err == nil && site.OrgID != orgID {
				return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].site_id %s is not a site of this organization", i, id)
			}
			if err != nil {
				return Grant{}, err
			}
			if !seen[site.ID] {
				seen[site.ID] = true
				g.Sites = append(g.Sites, store.SiteRef{ID: site.ID, Name: site.Name})
			}
		case "":
			return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].scope is required: org or site", i)
		default:
			return Grant{}, portal.Errorf(portal.EINVALID, "privileges[%d].scope %q is not supported: use org (the whole organization) or site", i, portal.Truncate(p.Scope, 64))
		}
	}
	if orgScope && len(g.Sites) > 0 {
		return Grant{}, portal.Errorf(portal.EINVALID, "privileges mix scope org and scope site: scope org already gives every site; send either one privilege with scope org or one with scope site per site")
	}
	if orgScope && len(in) > 1 {
		return Grant{}, portal.Errorf(portal.EINVALID, "privileges has more than one privilege with scope org; send one")
	}
	if g.Role == portal.RoleAdmin && len(g.Sites) > 0 {
		return Grant{}, portal.Errorf(portal.EINVALID, "a Super User (admin) has the whole organization: choose no sites, or another role for site access")
	}
	if g.Role == portal.RoleHelpdesk && len(g.Sites) == 0 {
		return Grant{}, portal.Errorf(portal.EINVALID, "Helpdesk (helpdesk) works on sites: choose at least one site")
	}
	slices.SortFunc(g.Sites, func(a, b store.SiteRef) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return g, nil
}

// guiRole is a role's GUI name (Super User…).
func guiRole(role string) string {
	if n, ok := portal.RoleNames[role]; ok {
		return n
	}
	return role
}

func sameID(a, b string) bool {
	x, err := uuid.Parse(a)
	return err == nil && x.String() == b
}

// grantOf summarises a member's privileges in one organization.
func grantOf(privs []*portal.Privilege, orgID string) (Grant, bool) {
	var g Grant
	found := false
	for _, p := range privs {
		if p.OrgID != orgID {
			continue
		}
		found = true
		if p.Scope == portal.ScopeOrg {
			return Grant{Role: p.Role}, true // org scope covers every site
		}
		if g.Role == "" || slices.Contains(covers[p.Role], g.Role) {
			g.Role = p.Role // mixed roles (not made here): the widest
		}
		g.Sites = append(g.Sites, store.SiteRef{ID: p.SiteID, Name: p.SiteName})
	}
	return g, found
}

// raises reports whether changing from to to gives more: a role the
// current one does not cover, or sites beyond the current ones.
func raises(from, to Grant) bool {
	if !slices.Contains(covers[from.Role], to.Role) {
		return true
	}
	if len(from.Sites) == 0 {
		return false // the whole organization already
	}
	if len(to.Sites) == 0 {
		return true
	}
	have := map[string]bool{}
	for _, s := range from.Sites {
		have[s.ID] = true
	}
	for _, s := range to.Sites {
		if !have[s.ID] {
			return true
		}
	}
	return false
}

// privilegesOf builds the privileges of a grant.
func privilegesOf(g Grant, userID, orgID, orgName string) []*portal.Privilege {
	if g.NoSites && len(g.Sites) == 0 {
		return nil
	}
	if len(g.Sites) == 0 {
		return []*portal.Privilege{{ID: newID(), UserID: userID, OrgID: orgID, Scope: portal.ScopeOrg, Role: g.Role, OrgName: orgName}}
	}
	out := make([]*portal.Privilege, len(g.Sites))
	for i, s := range g.Sites {
		out[i] = &portal.Privilege{ID: newID(), UserID: userID, OrgID: orgID, SiteID: s.ID, Scope: portal.ScopeSite, Role: g.Role, OrgName: orgName, SiteName: s.Name}
	}
	return out
}

// requireOrgAdmin lets only Super Users of the organization through
// (others in it: forbidden; non-members: not found).
func (s *Service) requireOrgAdmin(ctx context.Context, a *Actor, orgID, what string) error {
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return err
	}
	return requireAdmin(acc, what)
}

func memberAdmin(m *store.Member, o *portal.Org) *Admin {
	g, _ := grantOf(m.Privileges, o.ID)
	return &Admin{UserID: m.UserID, OrgID: o.ID, OrgName: o.Name, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName,
		Status: AdminActive, Grant: g, Privileges: m.Privileges}
}

func (s *Service) inviteAdmin(inv *store.Invite) *Admin {
	status := AdminInvitePending
	if !s.clock().Before(inv.Expires) {
		status = AdminInviteExpired
	}
	g := Grant{Role: inv.Role, Sites: inv.Sites, NoSites: inv.Scope == portal.ScopeSite}
	return &Admin{InviteID: inv.ID, OrgID: inv.OrgID, OrgName: inv.OrgName, Email: inv.Email, FirstName: inv.FirstName, LastName: inv.LastName,
		Status: status, Grant: g, Privileges: privilegesOf(g, "", inv.OrgID, inv.OrgName),
		InvitedBy: inv.InvitedByName, Hours: inv.Hours, Created: inv.Created, Sent: inv.Modified, Expires: inv.Expires}
}

// ListAdmins lists an organization's members, then its open invitations
// (pending or expired), each group by name (Super Users only).
func (s *Service) ListAdmins(ctx context.Context, a *Actor, orgID string) (_ []*Admin, err error) {
	defer wrap(&err, "ListAdmins(%s)", orgID)
	if err := s.requireOrgAdmin(ctx, a, orgID, "see and manage its administrators"); err != nil {
		return nil, err
	}
	o, err := s.db.GetOrg(ctx, orgID)
	if err != nil {
		return nil, err
	}
	members, err := s.db.ListOrgMembers(ctx, orgID)
	if err != nil {
		return nil, err
	}
	invites, err := s.db.ListOpenInvites(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var out []*Admin
	for _, m := range members {
		out = append(out, memberAdmin(m, o))
	}
	byName := func(a, b *Admin) int {
		return cmp.Or(cmp.Compare(lower(a.LastName), lower(b.LastName)), cmp.Compare(lower(a.FirstName), lower(b.FirstName)),
			cmp.Compare(lower(a.Email), lower(b.Email)), cmp.Compare(a.ID(), b.ID()))
	}
	slices.SortFunc(out, byName)
	var invs []*Admin
	for _, inv := range invites {
		invs = append(invs, s.inviteAdmin(inv))
	}
	slices.SortFunc(invs, byName)
	return append(out, invs...), nil
}

// GetAdmin returns one member or open invitation of the organization by
// its id (Super Users only).
func (s *Service) GetAdmin(ctx context.Context, a *Actor, orgID, id string) (_ *Admin, err error) {
	defer wrap(&err, "GetAdmin(%s, %s)", orgID, id)
	list, err := s.ListAdmins(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	for _, ad := range list {
		if ad.ID() == id {
			return ad, nil
		}
	}
	return nil, notFound("administrator or invitation")
}

// LastSuperUser reports whether ad is the last Super User of the whole
// organization among its administrators (list, from ListAdmins): the one
// member whose role cannot be lowered and who cannot leave or be removed
// (keepSuperUser), so that the GUI can say so before anyone tries.
func LastSuperUser(list []*Admin, ad *Admin) bool {
	superUser := func(x *Admin) bool {
		return x.UserID != "" && x.Status == AdminActive && x.Role == portal.RoleAdmin && x.Scope() == portal.ScopeOrg
	}
	if !superUser(ad) {
		return false
	}
	n := 0
	for _, x := range list {
		if superUser(x) {
			n++
		}
	}
	return n <= 1
}

// lastSuperUser is the refusal to leave an organization without one.
func lastSuperUser(name, org string) error {
	return portal.Errorf(portal.EINVALID, "%s is the last Super User of %s, and an organization always keeps at least one: make someone else a Super User first; nothing was changed", name, org)
}

// openInviteOf returns the open invitation id of the organization, if id
// names one (for the member routes, which also accept invitation ids).
func (s *Service) openInviteOf(ctx context.Context, orgID, id string) (bool, error) {
	inv, err := s.db.GetInvite(ctx, id)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return inv.OrgID == orgID && inv.Status == store.InvitePending, nil
}

// UpdateAdmin changes the role or site access of a member (Super Users
// only). The last Super User cannot be demoted, and nobody can raise their
// own role. The member is mailed. An id of an open invitation edits and
// re-sends the invitation instead (UpdateInvite).
func (s *Service) UpdateAdmin(ctx context.Context, a *Actor, orgID, userID string, privs []PrivilegeInput) (_ *Admin, err error) {
	defer wrap(&err, "UpdateAdmin(%s, %s)", orgID, userID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if userID == a.User.ID {
		// Said before "only a Super User can…", so that a member who
		// tries it learns the rule that applies.
		mine, err := s.db.ListPrivileges(ctx, a.User.ID)
		if err != nil {
			return nil, err
		}
		from, _ := grantOf(mine, orgID)
		to, err := checkGrant(ctx, s.db, orgID, privs)
		if err != nil {
			return nil, err
		}
		if raises(from, to) {
			return nil, portal.Errorf(portal.EFORBIDDEN, "you cannot raise your own role or widen your own site access: ask another Super User; nothing was changed")
		}
	}
	if err := requireAdmin(acc, "change the roles of its members"); err != nil {
		return nil, err
	}
	if userID != a.User.ID {
		if isInvite, err := s.openInviteOf(ctx, orgID, userID); err != nil {
			return nil, err
		} else if isInvite {
			return s.UpdateInvite(ctx, a, orgID, userID, InviteInput{Privileges: privs})
		}
	}
	var out *Admin
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, target, cur, err := s.lockedMember(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		g, err := checkGrant(ctx, tx, orgID, privs)
		if err != nil {
			return err
		}
		if userID == a.User.ID && raises(cur, g) { // again, under the lock
			return portal.Errorf(portal.EFORBIDDEN, "you cannot raise your own role or widen your own site access: ask another Super User; nothing was changed")
		}
		newPrivs := privilegesOf(g, userID, orgID, o.Name)
		out = &Admin{UserID: userID, OrgID: orgID, OrgName: o.Name, Email: target.Email, FirstName: target.FirstName, LastName: target.LastName,
			Status: AdminActive, Grant: g, Privileges: newPrivs}
		if g.equal(cur) {
			return nil // nothing to change
		}
		if g.Role != portal.RoleAdmin {
			if err := keepSuperUser(ctx, tx, orgID, cur, target, o); err != nil {
				return err
			}
		}
		if _, err := tx.DeleteOrgPrivileges(ctx, orgID, userID); err != nil {
			return err
		}
		now := s.clock()
		for _, p := range newPrivs {
			if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
				return err
			}
		}
		before, after := cur.fields(), g.fields()
		before["email"], after["email"] = target.Email, target.Email
		if err := w.audit(ctx, a.User, a.IP, orgID, "", "Changed the role of "+target.Email+" to "+guiRole(g.Role)+" ("+g.Describe()+")", before, after); err != nil {
			return err
		}
		if userID == a.User.ID {
			return nil // they know
		}
		return w.mail(ctx, target.Email, "role_changed", mail.LinkData{Name: target.FirstName, Email: target.Email, Link: s.link("/orgs/" + orgID),
			BaseURL: s.baseURL, OrgName: o.Name, Role: guiRole(g.Role), Access: g.Describe(), By: a.User.Name()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockedMember locks the organization (so that concurrent changes of its
// members, which check its last Super User, are serialized) and returns it
// with the member userID and their grant there (member).
func (s *Service) lockedMember(ctx context.Context, tx *store.Tx, orgID, userID string) (*portal.Org, *portal.User, Grant, error) {
	if err := tx.LockOrg(ctx, orgID); err != nil {
		return nil, nil, Grant{}, err
	}
	o, err := tx.GetOrg(ctx, orgID)
	if err != nil {
		return nil, nil, Grant{}, err
	}
	target, cur, err := s.member(ctx, tx, orgID, userID)
	if err != nil {
		return nil, nil, Grant{}, err
	}
	return o, target, cur, nil
}

// member reads a member of the organization and their grant there, in tx.
func (s *Service) member(ctx context.Context, tx *store.Tx, orgID, userID string) (*portal.User, Grant, error) {
	u, err := tx.GetUser(ctx, userID)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, Grant{}, notFound("administrator")
	}
	if err != nil {
		return nil, Grant{}, err
	}
	privs, err := tx.ListPrivileges(ctx, userID)
	if err != nil {
		return nil, Grant{}, err
	}
	g, ok := grantOf(privs, orgID)
	if !ok {
		return nil, Grant{}, notFound("administrator")
	}
	return u, g, nil
}

// RevokeAdmin removes every privilege of a member in the organization
// (Super Users only); it takes effect on the member's next request. The
// last Super User cannot be revoked. The member is mailed. An id of an
// open invitation cancels the invitation instead.
func (s *Service) RevokeAdmin(ctx context.Context, a *Actor, orgID, userID string) (err error) {
	defer wrap(&err, "RevokeAdmin(%s, %s)", orgID, userID)
	if err := s.requireOrgAdmin(ctx, a, orgID, "remove its members"); err != nil {
		return err
	}
	if isInvite, err := s.openInviteOf(ctx, orgID, userID); err != nil {
		return err
	} else if isInvite {
		return s.CancelInvite(ctx, a, orgID, userID)
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, target, cur, err := s.lockedMember(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := keepSuperUser(ctx, tx, orgID, cur, target, o); err != nil {
			return err
		}
		if _, err := tx.DeleteOrgPrivileges(ctx, orgID, userID); err != nil {
			return err
		}
		before := cur.fields()
		before["email"] = target.Email
		if err := w.audit(ctx, a.User, a.IP, orgID, "", "Revoked the access of "+target.Email+" to "+o.Name, before, nil); err != nil {
			return err
		}
		if userID == a.User.ID {
			return nil
		}
		return w.mail(ctx, target.Email, "access_revoked", mail.LinkData{Name: target.FirstName, Email: target.Email, Link: s.link("/"),
			BaseURL: s.baseURL, OrgName: o.Name, Role: guiRole(cur.Role), Access: cur.Describe(), By: a.User.Name()})
	})
}

// keepSuperUser refuses to take the Super User role away from the member
// when they are the organization's last one. Call it with the
// organization's row locked (tx.LockOrg), so two demotions cannot both pass.
func keepSuperUser(ctx context.Context, tx *store.Tx, orgID string, cur Grant, target *portal.User, o *portal.Org) error {
	if cur.Role != portal.RoleAdmin || len(cur.Sites) != 0 {
		return nil
	}
	n, err := tx.CountOrgAdmins(ctx, orgID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return lastSuperUser(target.Name(), o.Name)
	}
	return nil
}
