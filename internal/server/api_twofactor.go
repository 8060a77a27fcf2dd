package server

import (
	"mime"
	"net/http"
	"strings"

	"portal"
	"portal/internal/app"
)

// Two-factor authentication over the API (Mist paths and shapes, plus our
// own /api/v1/self/two_factor/recovery_codes). The rules are in
// internal/app/twofactor.go.

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
