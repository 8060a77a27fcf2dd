package server

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"portal"
	"portal/internal/app"
)

// Two-factor authentication over the API (Mist paths and shapes, plus our
// own /api/v1/self/two_factor/recovery_codes). The rules are in
// internal/app/twofactor.go.

// openWhenTwoFactorPending are the only routes of a session that still owes
// its second factor: reading /self (which then holds nothing but the login
// state), giving the code, logging out.
var openWhenTwoFactorPending = map[string]bool{
	"GET /api/v1/self":              true,
	"POST /api/v1/login/two_factor": true,
	"POST /api/v1/logout":           true,
	"GET /login/two_factor":         true,
	"POST /login/two_factor":        true,
	"POST /logout":                  true,
}

// openWhenEnrolDue are the routes left to a user whom an organization
// requires to enable two-factor authentication once the grace period is
// over: enrolment, the account, the password (which may have expired too),
// logging out. POST /account/{section} is open for the authentication and
// password sections.
var openWhenEnrolDue = map[string]bool{
	"GET /api/v1/self":                           true,
	"PUT /api/v1/self":                           true,
	"GET /api/v1/self/two_factor/token":          true,
	"POST /api/v1/self/two_factor/verify":        true,
	"GET /api/v1/self/two_factor/recovery_codes": true,
	"POST /api/v1/logout":                        true,
	"GET /account":                               true,
	"GET /account/two_factor":                    true,
	"POST /account/two_factor":                   true,
	"GET /account/two_factor/qr.png":             true,
	"POST /logout":                               true,
}

// restrictTwoFactor refuses the routes closed to the actor's session by
// two-factor authentication: 401 with "two_factor_required": true while
// the session owes its second factor, 403 with
// "two_factor_enrolment_required": true when an organization requires it
// and the grace period is over. The latter holds for API tokens as well
// (a token has no session, so it never owes a second factor).
func (s *server) restrictTwoFactor(r *http.Request, a *app.Actor) error {
	switch {
	case a.Session != nil && a.TwoFactor.Pending && !openWhenTwoFactorPending[r.Pattern]:
		return app.TwoFactorPendingError()
	case a.TwoFactor.EnrolDue && !openWhenEnrolDue[r.Pattern]:
		if r.Pattern == "POST /account/{section}" && (r.PathValue("section") == twoFactorSection || r.PathValue("section") == "password") {
			return nil
		}
		return a.TwoFactorEnrolError()
	}
	return nil
}

// twoFactorRefusal tells which refusal of restrictTwoFactor err is.
func twoFactorRefusal(err error) (pending, enrol bool) {
	var e *portal.Error
	if !errors.As(err, &e) {
		return false, false
	}
	return e.Fields["two_factor_required"] == true && e.Code == portal.EUNAUTHORIZED, e.Fields["two_factor_enrolment_required"] == true
}

// withTwoFactor fills the two-factor keys of /self truthfully.
func withTwoFactor(out selfJSON, a *app.Actor) selfJSON {
	st := a.TwoFactor
	out.EnableTwoFactor, out.TwoFactorVerified = st.Enabled, st.Verified
	out.TwoFactorRequired, out.TwoFactorPassed = st.Pending, st.Passed
	return out
}

// pendingSelf is /self for a session that owes its second factor: the
// login state and nothing of the account.
func pendingSelf(a *app.Actor) loginResponse {
	return loginResponse{Email: a.User.Email, TwoFactorRequired: true, TwoFactorPassed: false}
}

type twoFactorRequest struct {
	TwoFactor string `json:"two_factor"`
}

// apiLoginTwoFactor is POST /api/v1/login/two_factor {"two_factor"}: the
// second step of a login, with a code or a recovery code.
func (s *server) apiLoginTwoFactor(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in twoFactorRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	token, err := s.svc.PassLoginTwoFactor(r.Context(), a, in.TwoFactor)
	if err != nil {
		return err
	}
	s.setRotatedSessionCookie(w, a, token)
	return ok(w, loginResponse{Email: a.User.Email, TwoFactorRequired: false, TwoFactorPassed: true})
}

// apiTwoFactorToken is GET /api/v1/self/two_factor/token?by=qrcode: the
// secret of an enrolment waiting for verification, as JSON, or its QR code
// as a PNG when the client accepts image/png or application/octet-stream.
func (s *server) apiTwoFactorToken(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	if by := r.URL.Query().Get("by"); by != "" && by != "qrcode" {
		return portal.Errorf(portal.EINVALID, "by must be qrcode")
	}
	if ct := acceptedImage(r); ct != "" {
		png, err := s.svc.TwoFactorQRCode(r.Context(), a)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(png)
		return nil
	}
	secret, uri, err := s.svc.TwoFactorSecret(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"two_factor_secret": secret, "two_factor_uri": uri})
}

// acceptedImage returns the image type the client asks for in Accept
// (image/png or application/octet-stream, whichever it lists before JSON),
// or "" for JSON.
func acceptedImage(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "application/json", "application/vnd.api+json":
			return ""
		case "image/png", "application/octet-stream":
			return mt
		}
	}
	return ""
}

// apiVerifyTwoFactor is POST /api/v1/self/two_factor/verify {"two_factor",
// "current_password"}: the first correct code activates two-factor
// authentication and returns the recovery codes, once. Activating needs a
// session logged in within the last minutes, or current_password (ours).
func (s *server) apiVerifyTwoFactor(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in struct {
		TwoFactor       string `json:"two_factor"`
		CurrentPassword string `json:"current_password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	codes, err := s.svc.VerifyTwoFactor(r.Context(), a, in.TwoFactor, in.CurrentPassword)
	if err != nil {
		return err
	}
	out := map[string]any{"enable_two_factor": true, "two_factor_verified": true, "two_factor_passed": true}
	if codes != nil {
		out["recovery_codes"] = codes
		out["detail"] = "two-factor authentication is on; keep these recovery codes somewhere safe: they are shown only now"
	}
	return ok(w, out)
}

type recoveryCodesJSON struct {
	Remaining     int      `json:"remaining"`
	Total         int      `json:"total"`
	CreatedTime   int64    `json:"created_time"`
	Low           bool     `json:"low"`
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// apiRecoveryCodes is GET /api/v1/self/two_factor/recovery_codes (ours):
// how many recovery codes remain.
func (s *server) apiRecoveryCodes(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	st, err := s.svc.RecoveryCodes(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, recoveryCodesJSON{Remaining: st.Remaining, Total: st.Total, CreatedTime: st.Created.Unix(), Low: st.Low})
}

// apiRegenerateRecoveryCodes is POST /api/v1/self/two_factor/recovery_codes
// {"password"} (ours): a new set, which voids the old one, shown once.
func (s *server) apiRegenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	codes, err := s.svc.RegenerateRecoveryCodes(r.Context(), a, in.Password)
	if err != nil {
		return err
	}
	st, err := s.svc.RecoveryCodes(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, recoveryCodesJSON{Remaining: st.Remaining, Total: st.Total, CreatedTime: st.Created.Unix(), Low: st.Low, RecoveryCodes: codes})
}
