package server

import (
	"net/http"
	"net/url"
	"strconv"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
)

// An organization's audit log: GET /api/v1/orgs/{org_id}/logs (Mist's
// listOrgAuditLogs; app/orglogs.go).

// orgLogQuery reads Mist's query parameters of the log, and our cursor.
func orgLogQuery(r *http.Request) (app.OrgLogQuery, error) {
	lq, err := logQuery(r)
	if err != nil {
		return app.OrgLogQuery{}, err
	}
	v := r.URL.Query()
	return app.OrgLogQuery{LogQuery: lq, SiteID: v.Get("site_id"), AdminName: v.Get("admin_name"), Message: v.Get("message"),
		Sort: v.Get("sort"), Cursor: v.Get("cursor")}, nil
}

// toAuditJSON is an entry in Mist's shape, with for_site, and the API
// token a change was made with (ours).
func toAuditJSON(e *portal.AuditEntry) auditJSON {
	return auditJSON{ID: e.ID, Timestamp: float64(e.Timestamp.UnixMilli()) / 1000, AdminID: e.AdminID, AdminName: e.AdminName,
		OrgID: e.OrgID, SiteID: e.SiteID, Message: e.Message, Before: e.Before, After: e.After, SrcIP: e.SrcIP,
		ForSite: e.SiteID != portal.NilID, APITokenName: e.APITokenName}
}

// nextLogPage is the address of the page after res, with the same filters:
// by cursor in time order, by number otherwise; "" on the last page.
func nextLogPage(r *http.Request, q app.OrgLogQuery, res *app.OrgLogPage) string {
	v := r.URL.Query()
	switch {
	case res.Next != "":
		v.Del("page")
		v.Del("duration")
		v.Set("cursor", res.Next)
		v.Set("start", strconv.FormatInt(res.Start.Unix(), 10))
		v.Set("end", strconv.FormatInt((res.End.UnixMilli()+999)/1000, 10))
	case (q.Sort == store.AuditByAdmin || q.Sort == store.AuditBySite) && res.Page.Page*res.Page.Limit < res.Total:
		v.Set("page", strconv.Itoa(res.Page.Page+1))
	default:
		return ""
	}
	return (&url.URL{Path: r.URL.Path, RawQuery: v.Encode()}).String()
}

func (s *server) apiOrgLogs(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	q, err := orgLogQuery(r)
	if err != nil {
		return err
	}
	res, err := s.svc.OrgLogs(r.Context(), a, id, q)
	if err != nil {
		return err
	}
	out := struct {
		Start   int64       `json:"start"`
		End     int64       `json:"end"`
		Limit   int         `json:"limit"`
		Page    int         `json:"page"`
		Total   int         `json:"total"`
		Next    string      `json:"next,omitempty"`
		Results []auditJSON `json:"results"`
	}{Start: res.Start.Unix(), End: res.End.Unix(), Limit: res.Page.Limit, Page: res.Page.Page, Total: res.Total,
		Next: nextLogPage(r, q, res), Results: []auditJSON{}}
	for _, e := range res.Results {
		out.Results = append(out.Results, toAuditJSON(e))
	}
	setPageHeaders(w, res.Page, res.Total)
	return ok(w, out)
}
