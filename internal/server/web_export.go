package server

import (
	"encoding/json"
	"net/http"

	"portal/internal/app"
)

// My Account ▸ Your Data: Download my data gives the same file as GET
// /api/v1/self/export (app/personal_export.go).

func (s *server) sectionData() accountSection {
	return accountSection{name: "data", title: "Your Data"} // the template only: a link to webExport
}

func (s *server) webExport(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	d, err := s.svc.ExportPersonalData(r.Context(), a)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="portal-data-`+d.ExportedAt.Format("2006-01-02")+`.json"`)
	_, err = w.Write(append(b, '\n'))
	return err
}
