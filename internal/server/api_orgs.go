package server

import (
	"net/http"

	"portal"
	"portal/internal/app"
)

type orgJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	SessionExpiry int    `json:"session_expiry"`
	// SessionMaxLifetime (ours): days a session lives at most from its login.
	SessionMaxLifetime int   `json:"session_max_lifetime"`
	CreatedTime        int64 `json:"created_time"`
	ModifiedTime       int64 `json:"modified_time"`
}

func toOrgJSON(o *portal.Org) orgJSON {
	return orgJSON{ID: o.ID, Name: o.Name, SessionExpiry: o.SessionExpiry, SessionMaxLifetime: o.SessionMaxLifetime,
		CreatedTime: o.CreatedTime.Unix(), ModifiedTime: o.ModifiedTime.Unix()}
}

type orgRequest struct {
	Name               *string `json:"name"`
	SessionExpiry      *int    `json:"session_expiry"`
	SessionMaxLifetime *int    `json:"session_max_lifetime"`
}

func (in orgRequest) input() app.OrgInput {
	return app.OrgInput{Name: in.Name, SessionExpiry: in.SessionExpiry, SessionMaxLifetime: in.SessionMaxLifetime}
}

func (s *server) apiCreateOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in orgRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	o, err := s.svc.CreateOrg(r.Context(), a, in.input())
	if err != nil {
		return err
	}
	return ok(w, toOrgJSON(o))
}

func (s *server) apiGetOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	o, err := s.svc.GetOrg(r.Context(), a, id)
	if err != nil {
		return err
	}
	return ok(w, toOrgJSON(o))
}

func (s *server) apiUpdateOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in orgRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	o, err := s.svc.UpdateOrg(r.Context(), a, id, in.input())
	if err != nil {
		return err
	}
	return ok(w, toOrgJSON(o))
}

func (s *server) apiDeleteOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteOrg(r.Context(), a, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}

type siteJSON struct {
	ID           string `json:"id"`
	OrgID        string `json:"org_id"`
	Name         string `json:"name"`
	Timezone     string `json:"timezone"`
	CountryCode  string `json:"country_code"`
	Address      string `json:"address"`
	Notes        string `json:"notes"`
	CreatedTime  int64  `json:"created_time"`
	ModifiedTime int64  `json:"modified_time"`
}

func toSiteJSON(s *portal.Site) siteJSON {
	return siteJSON{ID: s.ID, OrgID: s.OrgID, Name: s.Name, Timezone: s.Timezone, CountryCode: s.CountryCode,
		Address: s.Address, Notes: s.Notes, CreatedTime: s.CreatedTime.Unix(), ModifiedTime: s.ModifiedTime.Unix()}
}

type siteRequest struct {
	Name        *string `json:"name"`
	Timezone    *string `json:"timezone"`
	CountryCode *string `json:"country_code"`
	Address     *string `json:"address"`
	Notes       *string `json:"notes"`
}

func (in siteRequest) input() app.SiteInput {
	return app.SiteInput{Name: in.Name, Timezone: in.Timezone, CountryCode: in.CountryCode, Address: in.Address, Notes: in.Notes}
}

func (s *server) apiListSites(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	p, err := queryPage(r)
	if err != nil {
		return err
	}
	sites, total, err := s.svc.ListSites(r.Context(), a, id, p)
	if err != nil {
		return err
	}
	out := []siteJSON{}
	for _, site := range sites {
		out = append(out, toSiteJSON(site))
	}
	setPageHeaders(w, p, total)
	return ok(w, out)
}

func (s *server) apiCreateSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in siteRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	site, err := s.svc.CreateSite(r.Context(), a, id, in.input())
	if err != nil {
		return err
	}
	return ok(w, toSiteJSON(site))
}

func (s *server) apiGetSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "site_id", "site")
	if err != nil {
		return err
	}
	site, err := s.svc.GetSite(r.Context(), a, id)
	if err != nil {
		return err
	}
	return ok(w, toSiteJSON(site))
}

func (s *server) apiUpdateSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "site_id", "site")
	if err != nil {
		return err
	}
	var in siteRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	site, err := s.svc.UpdateSite(r.Context(), a, id, in.input())
	if err != nil {
		return err
	}
	return ok(w, toSiteJSON(site))
}

func (s *server) apiDeleteSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "site_id", "site")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteSite(r.Context(), a, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}
