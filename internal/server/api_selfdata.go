package server

import (
	"net/http"

	"portal/internal/app"
)

// What Portal holds about the caller: failed logins on the account
// (Mist's GET /api/v1/self/login_failures).

// loginFailureJSON is one failed login (ours).
type loginFailureJSON struct {
	Timestamp int64  `json:"timestamp"`
	SrcIP     string `json:"src_ip"`
	UserAgent string `json:"user_agent"`
	Reason    string `json:"reason"`
}

func (s *server) apiLoginFailures(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	f, err := s.svc.SelfLoginFailures(r.Context(), a)
	if err != nil {
		return err
	}
	out := struct {
		Email         string             `json:"email"`
		NumAttempts   int                `json:"num_attempts"`
		LastFailureAt int64              `json:"last_failure_at,omitempty"`
		SrcIPs        []string           `json:"scr_ips"` // sic: Mist's name
		UserAgents    []string           `json:"user_agents"`
		Failures      []loginFailureJSON `json:"failures"` // ours: the most recent, one by one
	}{Email: f.Email, NumAttempts: f.Count, SrcIPs: f.IPs, UserAgents: f.UserAgents, Failures: []loginFailureJSON{}}
	if !f.Last.IsZero() {
		out.LastFailureAt = f.Last.Unix()
	}
	for _, x := range f.Recent {
		out.Failures = append(out.Failures, loginFailureJSON{Timestamp: x.Time.Unix(), SrcIP: x.IP, UserAgent: x.UserAgent, Reason: x.Reason})
	}
	return ok(w, out)
}

// apiExport is GET /api/v1/self/export (ours): everything Portal holds
// about the caller, as one JSON file (app/personal_export.go).
func (s *server) apiExport(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	d, err := s.svc.ExportPersonalData(r.Context(), a)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="portal-data-`+d.ExportedAt.Format("2006-01-02")+`.json"`)
	return ok(w, d)
}
