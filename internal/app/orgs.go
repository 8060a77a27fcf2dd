package app

import (
	"context"

	"portal"
	"portal/internal/store"
)

// access is what one user may do in one organization.
type access struct {
	orgRole   string            // role with org scope, "" if none
	siteRoles map[string]string // site id → role, for site-scoped privileges
}

func (a access) member() bool  { return a.orgRole != "" || len(a.siteRoles) > 0 }
func (a access) isAdmin() bool { return a.orgRole == portal.RoleAdmin }

// canSeeSite reports whether the user sees a site of the organization.
func (a access) canSeeSite(siteID string) bool {
	if a.orgRole != "" {
		return true
	}
	_, ok := a.siteRoles[siteID]
	return ok
}

// accessTo loads the actor's privileges in an organization. A caller with
// none gets not-found, so the organization's existence is not revealed.
func (s *Service) accessTo(ctx context.Context, a *Actor, orgID string) (access, error) {
	privs, err := s.db.ListPrivileges(ctx, a.User.ID)
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

func notFound(what string) error { return portal.Errorf(portal.ENOTFOUND, "%s not found", what) }

func requireAdmin(acc access, what string) error {
	if !acc.isAdmin() {
		return portal.Errorf(portal.EFORBIDDEN, "only a Super User of the organization can %s", what)
	}
	return nil
}

// OrgInput carries organization fields; nil means unchanged.
type OrgInput struct {
	Name          *string
	SessionExpiry *int
}

func checkSessionExpiry(v int) error {
	if v < 10 || v > 20160 {
		return portal.Errorf(portal.EINVALID, "session_expiry must be between 10 and 20160 minutes")
	}
	return nil
}

// CreateOrg creates an organization; the actor becomes its Super User.
func (s *Service) CreateOrg(ctx context.Context, a *Actor, in OrgInput) (*portal.Org, error) {
	if in.Name == nil {
		return nil, portal.Errorf(portal.EINVALID, "name is required")
	}
	name, err := cleanName("name", *in.Name, portal.MaxOrgNameLen, true)
	if err != nil {
		return nil, err
	}
	expiry := portal.DefaultSessionExpiry
	if in.SessionExpiry != nil {
		if err := checkSessionExpiry(*in.SessionExpiry); err != nil {
			return nil, err
		}
		expiry = *in.SessionExpiry
	}
	var o *portal.Org
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, err = s.createOrg(ctx, w, a.User, a.IP, name, expiry)
		return err
	})
	return o, err
}

func (s *Service) createOrg(ctx context.Context, w *writer, u *portal.User, ip, name string, expiry int) (*portal.Org, error) {
	now := s.clock()
	o := &portal.Org{ID: newID(), Name: name, SessionExpiry: expiry, CreatedTime: now, ModifiedTime: now}
	if err := w.tx.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	p := &portal.Privilege{ID: newID(), UserID: u.ID, OrgID: o.ID, Scope: portal.ScopeOrg, Role: portal.RoleAdmin}
	if err := w.tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
		return nil, err
	}
	return o, w.audit(ctx, u, ip, o.ID, "", "Created organization "+o.Name, nil, orgFields(o))
}

func orgFields(o *portal.Org) map[string]any {
	return map[string]any{"name": o.Name, "session_expiry": o.SessionExpiry}
}

// GetOrg returns an organization the actor belongs to.
func (s *Service) GetOrg(ctx context.Context, a *Actor, id string) (*portal.Org, error) {
	if _, err := s.accessTo(ctx, a, id); err != nil {
		return nil, err
	}
	return s.db.GetOrg(ctx, id)
}

// UpdateOrg changes an organization (Super User only).
func (s *Service) UpdateOrg(ctx context.Context, a *Actor, id string, in OrgInput) (*portal.Org, error) {
	acc, err := s.accessTo(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(acc, "change its settings"); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if *in.Name, err = cleanName("name", *in.Name, portal.MaxOrgNameLen, true); err != nil {
			return nil, err
		}
	}
	if in.SessionExpiry != nil {
		if err := checkSessionExpiry(*in.SessionExpiry); err != nil {
			return nil, err
		}
	}
	var o *portal.Org
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if o, err = tx.GetOrg(ctx, id); err != nil {
			return err
		}
		before := orgFields(o)
		if in.Name != nil {
			o.Name = *in.Name
		}
		if in.SessionExpiry != nil {
			o.SessionExpiry = *in.SessionExpiry
		}
		o.ModifiedTime = s.clock()
		if err := tx.UpdateOrg(ctx, o); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, o.ID, "", "Updated organization "+o.Name, before, orgFields(o))
	})
	return o, err
}

// DeleteOrg deletes an organization with its sites and privileges (Super User only).
func (s *Service) DeleteOrg(ctx context.Context, a *Actor, id string) error {
	acc, err := s.accessTo(ctx, a, id)
	if err != nil {
		return err
	}
	if err := requireAdmin(acc, "delete it"); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, err := tx.GetOrg(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteOrg(ctx, id); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, id, "", "Deleted organization "+o.Name, orgFields(o), nil)
	})
}

// SiteInput carries site fields; nil means unchanged.
type SiteInput struct {
	Name        *string
	Timezone    *string
	CountryCode *string
	Address     *string
	Notes       *string
}

func (in SiteInput) apply(site *portal.Site) error {
	var err error
	if in.Name != nil {
		if site.Name, err = cleanName("name", *in.Name, portal.MaxSiteNameLen, true); err != nil {
			return err
		}
	}
	if in.Timezone != nil {
		if site.Timezone, err = checkTimezone(*in.Timezone); err != nil {
			return err
		}
	}
	if in.CountryCode != nil {
		if site.CountryCode, err = checkCountry(*in.CountryCode); err != nil {
			return err
		}
	}
	if in.Address != nil {
		if site.Address, err = cleanName("address", *in.Address, 256, false); err != nil {
			return err
		}
	}
	if in.Notes != nil {
		if site.Notes, err = cleanName("notes", *in.Notes, portal.MaxNotesLen, false); err != nil {
			return err
		}
	}
	return nil
}

func siteFields(s *portal.Site) map[string]any {
	return map[string]any{"name": s.Name, "timezone": s.Timezone, "country_code": s.CountryCode, "address": s.Address, "notes": s.Notes}
}

// ListSites lists the sites of an organization that the actor may see.
func (s *Service) ListSites(ctx context.Context, a *Actor, orgID string, p portal.Page) ([]*portal.Site, int, error) {
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, 0, err
	}
	if p, err = CheckPage(p); err != nil {
		return nil, 0, err
	}
	if acc.orgRole != "" {
		return s.db.ListSites(ctx, orgID, p)
	}
	all, _, err := s.db.ListSites(ctx, orgID, portal.Page{Limit: 1 << 30, Page: 1})
	if err != nil {
		return nil, 0, err
	}
	var mine []*portal.Site
	for _, site := range all {
		if acc.canSeeSite(site.ID) {
			mine = append(mine, site)
		}
	}
	from := min(len(mine), (p.Page-1)*p.Limit)
	return mine[from:min(len(mine), from+p.Limit)], len(mine), nil
}

// CreateSite adds a site to an organization (Super User only).
func (s *Service) CreateSite(ctx context.Context, a *Actor, orgID string, in SiteInput) (*portal.Site, error) {
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(acc, "create sites"); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, portal.Errorf(portal.EINVALID, "name is required")
	}
	now := s.clock()
	site := &portal.Site{ID: newID(), OrgID: orgID, CreatedTime: now, ModifiedTime: now}
	if err := in.apply(site); err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.CreateSite(ctx, site); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, orgID, site.ID, "Created site "+site.Name, nil, siteFields(site))
	})
	return site, err
}

// siteAccess loads a site and the actor's access to its organization; a
// site the actor cannot see is not found.
func (s *Service) siteAccess(ctx context.Context, a *Actor, siteID string) (*portal.Site, access, error) {
	site, err := s.db.GetSite(ctx, siteID)
	if err != nil {
		return nil, access{}, err
	}
	acc, err := s.accessTo(ctx, a, site.OrgID)
	if err != nil || !acc.canSeeSite(siteID) {
		return nil, acc, notFound("site")
	}
	return site, acc, nil
}

// GetSite returns a site the actor may see.
func (s *Service) GetSite(ctx context.Context, a *Actor, siteID string) (*portal.Site, error) {
	site, _, err := s.siteAccess(ctx, a, siteID)
	return site, err
}

// UpdateSite changes a site (Super User only).
func (s *Service) UpdateSite(ctx context.Context, a *Actor, siteID string, in SiteInput) (*portal.Site, error) {
	site, acc, err := s.siteAccess(ctx, a, siteID)
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(acc, "change sites"); err != nil {
		return nil, err
	}
	before := siteFields(site)
	if err := in.apply(site); err != nil {
		return nil, err
	}
	site.ModifiedTime = s.clock()
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UpdateSite(ctx, site); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, site.OrgID, site.ID, "Updated site "+site.Name, before, siteFields(site))
	})
	return site, err
}

// DeleteSite deletes a site (Super User only).
func (s *Service) DeleteSite(ctx context.Context, a *Actor, siteID string) error {
	site, acc, err := s.siteAccess(ctx, a, siteID)
	if err != nil {
		return err
	}
	if err := requireAdmin(acc, "delete sites"); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.DeleteSite(ctx, siteID); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, site.OrgID, site.ID, "Deleted site "+site.Name, siteFields(site), nil)
	})
}
