package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	"portal"
	"portal/internal/app"
)

// Password recovery over the API (Mist paths): the rules are in
// internal/app/recover.go.

// apiRecover is POST /api/v1/recover {"email"}: always the same answer.
func (s *server) apiRecover(w http.ResponseWriter, r *http.Request) error {
	var in emailRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.RequestRecovery(r.Context(), in.Email, client(r)); err != nil {
		return err
	}
	return ok(w, detail("if that address has a Portal account, we sent it a link to choose a new password; the link works once, for "+app.Lifetime(app.RecoverTTL)))
}

type recoverVerifyRequest struct {
	Password  *string `json:"password"`
	TwoFactor string  `json:"two_factor"` // a code or a recovery code, when the account has 2FA
}

// apiVerifyRecover is POST /api/v1/recover/verify/{token}: it signs the
// user in with a session that can only set a new password, or, with
// {"password": …} in the body (our addition), sets it and signs in fully.
func (s *server) apiVerifyRecover(w http.ResponseWriter, r *http.Request) error {
	var in recoverVerifyRequest
	if err := decodeOptionalJSON(r, &in); err != nil {
		return err
	}
	res, err := s.svc.VerifyRecovery(r.Context(), r.PathValue("token"), in.Password, in.TwoFactor, client(r))
	if err != nil {
		return err
	}
	s.setSessionCookies(w, res)
	msg := `you are signed in to set a new password: PUT /api/v1/self {"password": "…"}; until then this session can do nothing else`
	if !res.Session.PasswordOnly {
		msg = "your new password is set, your other sessions are signed out, your API tokens are deleted, and you are signed in"
	}
	return ok(w, map[string]any{"detail": msg, "email": res.User.Email, "password_only": res.Session.PasswordOnly,
		"two_factor_required": false, "two_factor_passed": res.Session.TwoFactorPassed})
}

// decodeOptionalJSON is decodeJSON for a body that may be left out.
func decodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return portal.Errorf(portal.EINVALID, "Content-Type must be application/json")
		}
	}
	return decodeJSONBody(bytes.NewReader(b), v)
}
