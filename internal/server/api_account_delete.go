package server

import (
	"net/http"

	"portal/internal/app"
)

// deleteSelfRequest is the body of DELETE /api/v1/self: Mist takes none;
// Portal asks for the current password, and two_factor when two-factor
// authentication is on (app.Reauth).
type deleteSelfRequest struct {
	Password  string `json:"password"`
	TwoFactor string `json:"two_factor"`
}

// apiDeleteSelf deletes the caller's account (app/account_delete.go). A
// request without a body gets the 403 that asks for the password.
func (s *server) apiDeleteSelf(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in deleteSelfRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	d, err := s.svc.DeleteAccount(r.Context(), a, app.Reauth{Password: in.Password, TwoFactor: in.TwoFactor})
	if err != nil {
		return err
	}
	s.clearSessionCookies(w)
	return ok(w, map[string]any{"detail": "your account is deleted", "deleted_organizations": d.DeletedOrgs, "left_organizations": d.LeftOrgs})
}
