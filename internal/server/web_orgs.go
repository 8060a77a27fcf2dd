package server

import (
	"net/http"

	"portal"
	"portal/internal/app"
)

// The organization pages: home, creating an organization, an
// organization's page with its sites.

// webHome opens the user's first organization, or lists the invitations
// waiting for them and invites them to create one.
func (s *server) webHome(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	if len(v.Orgs) > 0 {
		http.Redirect(w, r, "/orgs/"+v.Orgs[0].ID, http.StatusSeeOther)
		return nil
	}
	invites, err := s.svc.MyInvites(r.Context(), a)
	if err != nil {
		return err
	}
	v.Title, v.Data = "Welcome", invites
	s.render(w, r, http.StatusOK, "home", v)
	return nil
}

func (s *server) webCreateOrgForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title = "Create Organization"
	s.render(w, r, http.StatusOK, "create_org", v)
	return nil
}

func (s *server) webCreateOrg(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title = "Create Organization"
	name := r.PostForm.Get("name")
	o, err := s.svc.CreateOrg(r.Context(), a, app.OrgInput{Name: &name})
	if err != nil {
		return s.formError(w, r, v, "create_org", err)
	}
	s.flash(w, "Organization "+o.Name+" created.")
	http.Redirect(w, r, "/orgs/"+o.ID, http.StatusSeeOther)
	return nil
}

// orgView is the data of the organization page. Perm decides which
// controls show (the service checks every request anyway).
type orgView struct {
	Org   *portal.Org
	Role  string
	Perm  app.Permissions
	Sites []*portal.Site
	Total int
	// Timezones are the choices of a new site's time zone: UTC, then the
	// IANA zones My Account's Preferences offers.
	Timezones []string
}

// CanCreateSite, CanUpdateSite and CanDeleteSite tell the template which
// controls to show; SiteActions whether any site has one.
func (ov *orgView) CanCreateSite() bool              { return ov.Perm.Can(app.ActCreateSite, "") }
func (ov *orgView) CanUpdateSite(siteID string) bool { return ov.Perm.Can(app.ActUpdateSite, siteID) }
func (ov *orgView) CanDeleteSite(siteID string) bool { return ov.Perm.Can(app.ActDeleteSite, siteID) }
func (ov *orgView) SiteActions() bool {
	for _, site := range ov.Sites {
		if ov.CanUpdateSite(site.ID) || ov.CanDeleteSite(site.ID) {
			return true
		}
	}
	return false
}

func (s *server) webOrg(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	o, err := s.svc.GetOrg(r.Context(), a, id)
	if err != nil {
		return err
	}
	sites, total, err := s.svc.ListSites(r.Context(), a, id, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return err
	}
	perm, err := s.svc.Permissions(r.Context(), a, id)
	if err != nil {
		return err
	}
	ov := &orgView{Org: o, Sites: sites, Total: total, Perm: perm}
	if ov.CanCreateSite() {
		ov.Timezones = append([]string{"UTC"}, timezones...)
	}
	for _, l := range v.Orgs {
		if l.ID == id {
			ov.Role = l.Role
		}
	}
	v.Title, v.CurrentOrg, v.Data = o.Name, o.ID, ov
	s.render(w, r, http.StatusOK, "org", v)
	return nil
}

// orgFormError shows the organization page again with a form's error (see
// reshow); a missing organization is the error page.
func (s *server) orgFormError(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, orgID string, ferr error) error {
	r.SetPathValue("org_id", orgID)
	return s.reshow(w, r, v, ferr, func(status int) error {
		return s.webOrg(&statusOverride{ResponseWriter: w, status: status}, r, v, a)
	}, portal.ENOTFOUND)
}

// statusOverride replaces the status of the next WriteHeader.
type statusOverride struct {
	http.ResponseWriter
	status int
}

func (w *statusOverride) WriteHeader(int) { w.ResponseWriter.WriteHeader(w.status) }

func (s *server) webCreateSite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	in := app.SiteInput{}
	for field, dst := range map[string]**string{"name": &in.Name, "timezone": &in.Timezone, "country_code": &in.CountryCode, "address": &in.Address} {
		if r.PostForm.Has(field) {
			val := r.PostForm.Get(field)
			*dst = &val
		}
	}
	if in.Name == nil {
		empty := ""
		in.Name = &empty
	}
	site, err := s.svc.CreateSite(r.Context(), a, id, in)
	if err != nil {
		return s.orgFormError(w, r, v, a, id, err)
	}
	s.flash(w, "Site "+site.Name+" created.")
	http.Redirect(w, r, "/orgs/"+id, http.StatusSeeOther)
	return nil
}

// pathSite is the site of the path's {site_id}.
func (s *server) pathSite(r *http.Request, a *app.Actor) (*portal.Site, error) {
	id, err := pathID(r, "site_id", "site")
	if err != nil {
		return nil, err
	}
	return s.svc.GetSite(r.Context(), a, id)
}

func (s *server) webRenameSite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	site, err := s.pathSite(r, a)
	if err != nil {
		return err
	}
	name := r.PostForm.Get("name")
	updated, err := s.svc.UpdateSite(r.Context(), a, site.ID, app.SiteInput{Name: &name})
	if err != nil {
		return s.orgFormError(w, r, v, a, site.OrgID, err)
	}
	s.flash(w, "Site "+site.Name+" renamed to "+updated.Name+".")
	http.Redirect(w, r, "/orgs/"+site.OrgID, http.StatusSeeOther)
	return nil
}

func (s *server) webDeleteSite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	site, err := s.pathSite(r, a)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteSite(r.Context(), a, site.ID); err != nil {
		return s.orgFormError(w, r, v, a, site.OrgID, err)
	}
	s.flash(w, "Site "+site.Name+" deleted.")
	http.Redirect(w, r, "/orgs/"+site.OrgID, http.StatusSeeOther)
	return nil
}
