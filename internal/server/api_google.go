package server

import (
	"errors"
	"net/http"
	"time"

	"portal"
	"portal/internal/app"
)

// Sign in with Google over the API, in Mist's paths and shapes
// (/api/v1/self/oauth/google, /api/v1/login/oauth/google). The rules are
// in internal/app/google.go. The routes exist only when
// PORTAL_GOOGLE_CLIENT_ID is set (routes.go).

// oauthFlowCookie holds the key that binds a sign-in with Google to the
// browser (or API client) that started it. SameSite=Lax: the provider
// sends the browser back with a top-level GET, which carries it.
const oauthFlowCookie = "oauth_flow"

func (s *server) setOAuthFlowCookie(w http.ResponseWriter, key string) {
	http.SetCookie(w, &http.Cookie{Name: oauthFlowCookie, Value: key, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(app.OAuthFlowTTL / time.Second)})
}

func (s *server) clearOAuthFlowCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: oauthFlowCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func oauthFlowKey(r *http.Request) string {
	if c, err := r.Cookie(oauthFlowCookie); err == nil {
		return c.Value
	}
	return ""
}

// apiGoogleLinkURL is GET /api/v1/self/oauth/google?forward=…: the
// provider's URL to link the caller's account, and whether it is linked.
func (s *server) apiGoogleLinkURL(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	st, err := s.svc.StartGoogleLink(r.Context(), a, app.GoogleLinkInput{Forward: r.URL.Query().Get("forward"), ViaAPI: true})
	if err != nil {
		return s.apiProviderDown(w, r, err)
	}
	return ok(w, map[string]any{"authorization_url": st.AuthorizationURL, "linked": st.Linked})
}

type oauthCodeRequest struct {
	Code  string `json:"code"`
	State string `json:"state"` // ours, optional: the flow is found by its binding without it
}

// apiGoogleLink is POST /api/v1/self/oauth/google {"code"}: links the
// Google account that signed in. A refusal is 400 with Mist's "error" and
// "error_description", and our "detail".
func (s *server) apiGoogleLink(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in oauthCodeRequest
	if err := decodeJSON(r, &in); err != nil {
		return oauthLinkFailure(err)
	}
	l, err := s.svc.FinishGoogleLink(r.Context(), a, app.GoogleCallback{Code: in.Code, State: in.State})
	if err != nil {
		return oauthLinkFailure(s.apiProviderDown(w, r, err))
	}
	return ok(w, map[string]any{"action": "oauth account linked", "id": l.Subject, "email": l.Email})
}

// apiProviderDown answers a refusal because Google cannot be reached: 503
// with Retry-After and a detail that says so (apiError gives every 503 the
// message of a database away). It returns any other error as it is, and
// nil once it answered.
func (s *server) apiProviderDown(w http.ResponseWriter, r *http.Request, err error) error {
	if !providerDown(err) {
		return err
	}
	s.logError(r, err)
	retryAfter(w, err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": portal.ErrorMessage(err), "provider_unavailable": true})
	return nil
}

// providerDown reports the refusal of a provider that cannot be reached.
func providerDown(err error) bool {
	var e *portal.Error
	return errors.As(err, &e) && e.Fields["provider_unavailable"] == true
}

// oauthLinkFailure gives a 400 the keys of Mist's link failure.
func oauthLinkFailure(err error) error {
	if err == nil {
		return nil
	}
	var e *portal.Error
	if !errors.As(err, &e) || e.Code != portal.EINVALID {
		return err
	}
	fields := map[string]any{"error": "invalid_request", "error_description": e.Message}
	for k, v := range e.Fields {
		fields[k] = v
	}
	return &portal.Error{Code: e.Code, Message: e.Message, Fields: fields}
}

// apiGoogleLoginURL is GET /api/v1/login/oauth/google?forward=…: the
// provider's URL to sign in; the oauth_flow cookie binds the flow to the
// client, which must send it back with the code.
func (s *server) apiGoogleLoginURL(w http.ResponseWriter, r *http.Request) error {
	st, err := s.svc.StartGoogleLogin(r.Context(), r.URL.Query().Get("forward"), oauthFlowKey(r), true, client(r))
	if err != nil {
		return s.apiProviderDown(w, r, err)
	}
	s.setOAuthFlowCookie(w, st.BrowserKey)
	return ok(w, map[string]any{"authorization_url": st.AuthorizationURL, "client_id": st.ClientID})
}

// apiGoogleLogin is POST /api/v1/login/oauth/google {"code"}: signs in the
// user linked to the Google account, answering as POST /api/v1/login does
// (two_factor_required when a code is still owed).
func (s *server) apiGoogleLogin(w http.ResponseWriter, r *http.Request) error {
	var in oauthCodeRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	res, _, err := s.svc.GoogleLogin(r.Context(), app.GoogleCallback{Code: in.Code, State: in.State, BrowserKey: oauthFlowKey(r)}, loginClient(r))
	if err != nil {
		return s.apiProviderDown(w, r, err)
	}
	s.clearOAuthFlowCookie(w)
	s.setSessionCookies(w, res)
	return ok(w, loginResponse{Email: res.User.Email, TwoFactorRequired: res.TwoFactorRequired, TwoFactorPassed: res.Session.TwoFactorPassed})
}

type passwordRequest struct {
	Password string `json:"password"`
}

// apiGoogleUnlink is DELETE /api/v1/login/oauth/google {"password"}:
// unlinks the caller's Google account (ours: the password is required).
func (s *server) apiGoogleUnlink(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in passwordRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
	}
	if err := s.svc.UnlinkGoogle(r.Context(), a, in.Password); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}
