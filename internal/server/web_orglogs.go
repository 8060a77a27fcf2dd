package server

import (
	"net/http"
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
