package server

import (
	"net/http"

	"portal/internal/app"
)

// sessionJSON is one of the caller's sessions (Portal extension).
type sessionJSON struct {
	ID           string `json:"id"`
	Browser      string `json:"browser"`
	OS           string `json:"os"`
	IP           string `json:"ip"`
	CreatedTime  int64  `json:"created_time"`
	LastSeenTime int64  `json:"last_seen_time"`
	Current      bool   `json:"current"`
}

// apiListSessions is GET /api/v1/self/sessions.
func (s *server) apiListSessions(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	list, err := s.svc.ListSessions(r.Context(), a)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(list))
	for _, si := range list {
		out = append(out, sessionJSON{ID: si.ID, Browser: si.Agent.BrowserName(), OS: si.Agent.OSName(), IP: si.IP,
			CreatedTime: si.Created.Unix(), LastSeenTime: si.LastSeen.Unix(), Current: si.Current})
	}
	return ok(w, out)
}

type signedOutJSON struct {
	SignedOut int `json:"signed_out"`
}

// apiSignOutSession is DELETE /api/v1/self/sessions/{session_id}. Signing
// out the current session logs the caller out.
func (s *server) apiSignOutSession(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "session_id", "session")
	if err != nil {
		return err
	}
	si, err := s.svc.SignOutSession(r.Context(), a, id)
	if err != nil {
		return err
	}
	if si.Current {
		s.clearSessionCookies(w)
	}
	return ok(w, signedOutJSON{SignedOut: 1})
}

// signOutOthersRequest is the body of DELETE /api/v1/self/sessions.
type signOutOthersRequest struct {
	Password string `json:"password"`
}

// apiSignOutOtherSessions is DELETE /api/v1/self/sessions {"password"}:
// every session but the current one. Without the current password: 403
// with reauthentication_required.
func (s *server) apiSignOutOtherSessions(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in signOutOthersRequest
	if err := decodeOptionalJSON(r, &in); err != nil {
		return err
	}
	n, err := s.svc.SignOutOtherSessions(r.Context(), a, app.Reauth{Password: in.Password})
	if err != nil {
		return err
	}
	return ok(w, signedOutJSON{SignedOut: n})
}
