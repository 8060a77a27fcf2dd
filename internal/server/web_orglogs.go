package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"portal"
	"portal/internal/app"
)

// Organization ▸ Settings ▸ Audit Log Retention (app/retention.go).
func (s *server) webSaveAuditRetention(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("audit_retention_days")))
	if err != nil {
		err = portal.Errorf(portal.EINVALID, "the retention must be a whole number of days")
	} else {
		err = s.svc.SetAuditRetention(r.Context(), a, id, days)
	}
	if err != nil {
		return s.reshow(w, r, v, err, func(int) error { // webOrgSettings answers 400 for any error
			v.Error = sentence(strings.ReplaceAll(portal.ErrorMessage(err), "audit_retention_days", "the retention"))
			return s.webOrgSettings(w, r, v, a)
		}, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	s.flash(w, "Audit logs are kept "+strconv.Itoa(days)+" days.")
	http.Redirect(w, r, "/orgs/"+id+"/settings#retention", http.StatusSeeOther)
	return nil
}

// Organization ▸ Audit Logs: the organization's log as the viewer may see
// it (app/orglogs.go), newest first, with filters, pages and a CSV
// download; times in the viewer's preferences.

// logPeriods are the periods the page offers, as Mist durations.
var logPeriods = []struct{ Value, Label string }{
	{"1h", "Last hour"}, {"1d", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"},
	{"90d", "Last 90 days"}, {"365d", "Last 365 days"}, {"3650d", "Everything kept"},
}

// orgLogsView is the data of the Audit Logs page.
type orgLogsView struct {
	Org      *portal.Org
	Periods  []struct{ Value, Label string }
	Sites    []*portal.Site // the sites the viewer sees, for the filter and the names
	Filter   url.Values     // the filters of this page
	Page     *app.OrgLogPage
	First    int    // number of the first entry shown
	Last     int    // and of the last
	Older    string // address of the next (older) page, "" on the last
	Newest   string // address of the first page, "" on it
	CSV      string // address of the CSV download with these filters
	siteName map[string]string
}

// SiteName is the name of the site of an entry ("" for the organization).
func (ov *orgLogsView) SiteName(id string) string {
	if id == portal.NilID {
		return ""
	}
	if n, ok := ov.siteName[id]; ok {
		return n
	}
	return "a deleted site"
}

// Changes renders an entry's before and after as indented JSON.
func (ov *orgLogsView) Changes(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// webOrgLogQuery reads the page's filters (a GET form), with 7 days as
// the default period.
func webOrgLogQuery(r *http.Request) (app.OrgLogQuery, url.Values) {
	v := r.URL.Query()
	f := url.Values{}
	for _, k := range []string{"duration", "admin_name", "site_id", "message"} {
		if x := strings.TrimSpace(v.Get(k)); x != "" {
			f.Set(k, x)
		}
	}
	if f.Get("duration") == "" {
		f.Set("duration", "7d")
	}
	q := app.OrgLogQuery{LogQuery: app.LogQuery{Duration: f.Get("duration")}, AdminName: f.Get("admin_name"), SiteID: f.Get("site_id"),
		Message: f.Get("message"), Cursor: v.Get("cursor")}
	q.Page.Limit = 50
	if end, err := strconv.ParseInt(v.Get("end"), 10, 64); err == nil && q.Cursor != "" {
		q.End = end // the range of the first page, for the next ones
	}
	return q, f
}

func (s *server) webOrgLogs(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	o, err := s.svc.GetOrg(r.Context(), a, id)
	if err != nil {
		return err
	}
	q, filter := webOrgLogQuery(r)
	v.Title, v.CurrentOrg = "Audit Logs · "+o.Name, o.ID
	ov := &orgLogsView{Org: o, Periods: logPeriods, Filter: filter, siteName: map[string]string{}}
	sites, _, err := s.svc.ListSites(r.Context(), a, id, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return err
	}
	ov.Sites = sites
	for _, site := range sites {
		ov.siteName[site.ID] = site.Name
	}
	base := "/orgs/" + url.PathEscape(id) + "/logs"
	ov.CSV = base + ".csv?" + filter.Encode()
	p, err := s.svc.OrgLogs(r.Context(), a, id, q)
	status := http.StatusOK
	switch {
	case err != nil && portal.ErrorCode(err) == portal.EINVALID:
		v.Error, status = sentence(portal.ErrorMessage(err)), http.StatusBadRequest
	case err != nil:
		return err
	default:
		ov.Page = p
		before, _ := strconv.Atoi(r.URL.Query().Get("seen"))
		ov.First, ov.Last = before+1, before+len(p.Results)
		if p.Next != "" {
			nv := url.Values{}
			for k := range filter {
				nv.Set(k, filter.Get(k))
			}
			nv.Set("cursor", p.Next)
			nv.Set("end", strconv.FormatInt((p.End.UnixMilli()+999)/1000, 10))
			nv.Set("seen", strconv.Itoa(ov.Last))
			ov.Older = base + "?" + nv.Encode()
		}
		if q.Cursor != "" {
			ov.Newest = base + "?" + filter.Encode()
		}
	}
	v.Data = ov
	s.render(w, r, status, "org_logs", v)
	return nil
}

// webOrgLogsCSV downloads the entries of the page's filters as CSV (at
// most app.CSVMaxRows), times in the viewer's preferences.
func (s *server) webOrgLogsCSV(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	q, _ := webOrgLogQuery(r)
	q.Cursor = ""
	// Check access and input before the answer starts.
	if _, err := s.svc.OrgLogs(r.Context(), a, id, q); err != nil {
		return err
	}
	sites, _, err := s.svc.ListSites(r.Context(), a, id, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return err
	}
	ov := &orgLogsView{siteName: map[string]string{}}
	for _, site := range sites {
		ov.siteName[site.ID] = site.Name
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-logs-`+id+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time", "administrator", "api_token", "site", "message", "before", "after", "source_ip", "id"})
	err = s.svc.OrgLogsEach(r.Context(), a, id, q, func(e *portal.AuditEntry) error {
		return cw.Write([]string{v.Prefs.Time(e.Timestamp), csvCell(e.AdminName), csvCell(e.APITokenName), csvCell(ov.SiteName(e.SiteID)),
			csvCell(e.Message), csvCell(compactJSON(e.Before)), csvCell(compactJSON(e.After)), e.SrcIP, e.ID})
	})
	cw.Flush()
	if err != nil {
		s.logError(r, err) // the answer has started: the file ends short
	}
	return nil
}

// csvCell keeps a spreadsheet from reading a cell as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func compactJSON(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}
