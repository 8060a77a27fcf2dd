package app

import (
	"context"
	"fmt"

	"portal"
	"portal/internal/store"
)

// OrgInput carries organization fields; nil means unchanged.
type OrgInput struct {
	Name          *string
	SessionExpiry *int
	// SessionMaxLifetime is the absolute lifetime of sessions, in days (ours).
	SessionMaxLifetime *int
}

func checkSessionExpiry(v int) error {
	if v < 10 || v > 20160 {
		return portal.Errorf(portal.EINVALID, "session_expiry must be between 10 and 20160 minutes")
	}
	return nil
}

func checkSessionMaxLifetime(v int) error {
	if v < portal.MinSessionMaxLifetime || v > portal.MaxSessionMaxLifetime {
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"field": "session_max_lifetime"},
			Message: fmt.Sprintf("session_max_lifetime must be between %d and %d days", portal.MinSessionMaxLifetime, portal.MaxSessionMaxLifetime)}
	}
	return nil
}

// CreateOrg creates an organization; the actor becomes its Super User.
func (s *Service) CreateOrg(ctx context.Context, a *Actor, in OrgInput) (_ *portal.Org, err error) {
	defer wrap(&err, "CreateOrg")
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
	maxLifetime := portal.DefaultSessionMaxLifetime
	if in.SessionMaxLifetime != nil {
		if err := checkSessionMaxLifetime(*in.SessionMaxLifetime); err != nil {
			return nil, err
		}
		maxLifetime = *in.SessionMaxLifetime
	}
	var o *portal.Org
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, err = s.createOrg(ctx, w, a.User, a.IP, name, expiry, maxLifetime)
		return err
	})
	return o, err
}

// createOrg creates an organization with session_expiry expiry (minutes)
// and session_max_lifetime maxLifetime (days); u becomes its Super User.
func (s *Service) createOrg(ctx context.Context, w *writer, u *portal.User, ip, name string, expiry, maxLifetime int) (*portal.Org, error) {
	now := s.clock()
	o := &portal.Org{ID: newID(), Name: name, SessionExpiry: expiry, SessionMaxLifetime: maxLifetime, CreatedTime: now, ModifiedTime: now}
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
	return map[string]any{"name": o.Name, "session_expiry": o.SessionExpiry, "session_max_lifetime": o.SessionMaxLifetime}
}

// GetOrg returns an organization the actor belongs to.
func (s *Service) GetOrg(ctx context.Context, a *Actor, id string) (_ *portal.Org, err error) {
	defer wrap(&err, "GetOrg(%s)", id)
	if _, err := s.authorize(ctx, a, id, ActViewOrg); err != nil {
		return nil, err
	}
	return s.db.GetOrg(ctx, id)
}

// UpdateOrg changes an organization (ActManageOrg: Super User).
func (s *Service) UpdateOrg(ctx context.Context, a *Actor, id string, in OrgInput) (_ *portal.Org, err error) {
	defer wrap(&err, "UpdateOrg(%s)", id)
	_, err = s.authorize(ctx, a, id, ActManageOrg)
	if err != nil {
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
	if in.SessionMaxLifetime != nil {
		if err := checkSessionMaxLifetime(*in.SessionMaxLifetime); err != nil {
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
		if in.SessionMaxLifetime != nil {
			o.SessionMaxLifetime = *in.SessionMaxLifetime
		}
		o.ModifiedTime = s.clock()
		if err := tx.UpdateOrg(ctx, o); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, o.ID, "", "Updated organization "+o.Name, before, orgFields(o))
	})
	return o, err
}

// DeleteOrg deletes an organization with its sites and privileges
// (ActManageOrg: Super User).
func (s *Service) DeleteOrg(ctx context.Context, a *Actor, id string) (err error) {
	defer wrap(&err, "DeleteOrg(%s)", id)
	if _, err := s.authorize(ctx, a, id, ActManageOrg); err != nil {
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

// ListSites lists the sites of an organization that the actor may see
// (ActViewSite): all of them with an org-scoped privilege, else the sites
// of the actor's site-scoped privileges.
func (s *Service) ListSites(ctx context.Context, a *Actor, orgID string, p portal.Page) (_ []*portal.Site, _ int, err error) {
	defer wrap(&err, "ListSites(%s)", orgID)
	acc, err := s.authorize(ctx, a, orgID, ActViewOrg)
	if err != nil {
		return nil, 0, err
	}
	if p, err = CheckPage(p); err != nil {
		return nil, 0, err
	}
	if acc.orgRole != "" && acc.can(ActViewSite, "") {
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

// CreateSite adds a site to an organization (ActCreateSite).
func (s *Service) CreateSite(ctx context.Context, a *Actor, orgID string, in SiteInput) (_ *portal.Site, err error) {
	defer wrap(&err, "CreateSite(%s)", orgID)
	_, err = s.authorize(ctx, a, orgID, ActCreateSite)
	if err != nil {
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

// GetSite returns a site the actor may see (ActViewSite).
func (s *Service) GetSite(ctx context.Context, a *Actor, siteID string) (_ *portal.Site, err error) {
	defer wrap(&err, "GetSite(%s)", siteID)
	site, _, err := s.authorizeSite(ctx, a, siteID, ActViewSite)
	return site, err
}

// UpdateSite changes a site (ActUpdateSite).
func (s *Service) UpdateSite(ctx context.Context, a *Actor, siteID string, in SiteInput) (_ *portal.Site, err error) {
	defer wrap(&err, "UpdateSite(%s)", siteID)
	site, _, err := s.authorizeSite(ctx, a, siteID, ActUpdateSite)
	if err != nil {
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

// DeleteSite deletes a site (ActDeleteSite).
func (s *Service) DeleteSite(ctx context.Context, a *Actor, siteID string) (err error) {
	defer wrap(&err, "DeleteSite(%s)", siteID)
	site, _, err := s.authorizeSite(ctx, a, siteID, ActDeleteSite)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.DeleteSite(ctx, siteID); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, site.OrgID, site.ID, "Deleted site "+site.Name, siteFields(site), nil)
	})
}
