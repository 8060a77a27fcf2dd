package server

import (
	"context"
	"net/http"
	"strings"

	"portal"
	"portal/internal/app"
)

// Sign in with Google in the GUI: My Account's Social Sign In section
// (link and unlink), the login page's "Sign in with Google", and the page
// the provider sends the browser back to. The rules are in
// internal/app/google.go; none of it exists without
// PORTAL_GOOGLE_CLIENT_ID (routes.go, accountSections).

const socialSection = "social"

// socialData is the data of the Social Sign In section.
type socialData struct {
	Linked *app.GoogleLink // nil: not linked
	// NeedsPassword: the session logged in too long ago to link without
	// the password (app.Service.SessionPrivileged).
	NeedsPassword bool
}

// sectionSocial is My Account ▸ Social Sign In; none (no name) when Google
// sign-in is off, so the section is not shown. A server without a service
// (the tests that list the GUI's surface) has it.
func (s *server) sectionSocial() accountSection {
	if s.svc != nil && !s.svc.GoogleEnabled() {
		return accountSection{}
	}
	return accountSection{
		name:  socialSection,
		title: "Social Sign In",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			l, err := s.svc.GoogleLinkOf(ctx, a.User.ID)
			if err != nil {
				return nil, err
			}
			return &socialData{Linked: l, NeedsPassword: !s.svc.SessionPrivileged(a)}, nil
		},
		// Save is Unlink, with the password.
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			if err := s.svc.UnlinkGoogle(r.Context(), a, r.PostForm.Get("password")); err != nil {
				return "", nil, withField(err, "password")
			}
			return "Your Google account is unlinked: Sign in with Google no longer signs in to your account.", nil, nil
		},
	}
}

// present drops the sections that are off (no name).
func present(sections []accountSection) []accountSection {
	out := sections[:0:0]
	for _, sec := range sections {
		if sec.name != "" {
			out = append(out, sec)
		}
	}
	return out
}

// webGoogleLinkStart is POST /account/social/link, the Yes of the section's
// confirmation: it sends the browser to Google's sign-in page.
func (s *server) webGoogleLinkStart(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	st, err := s.svc.StartGoogleLink(r.Context(), a, app.GoogleLinkInput{Password: r.PostForm.Get("password")})
	if err != nil {
		return s.socialError(w, r, v, a, withField(err, "password"))
	}
	http.Redirect(w, r, st.AuthorizationURL, http.StatusSeeOther)
	return nil
}

// socialError shows My Account again with err in the Social Sign In
// section; Google being unreachable is said there too (503).
func (s *server) socialError(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, err error) error {
	if providerDown(err) {
		v.Error = sentence(portal.ErrorMessage(err))
		retryAfter(w, err)
		return s.renderAccount(w, r, v, a, http.StatusServiceUnavailable, socialSection, nil, err)
	}
	return s.reshow(w, r, v, err, func(status int) error {
		return s.renderAccount(w, r, v, a, status, socialSection, nil, err)
	})
}

// allowGoogleForms lets the forms of this page (Yes, Sign in with Google)
// lead to Google's sign-in page: their answer is a redirect there, which
// the Content-Security-Policy's form-action 'self' would block.
func (s *server) allowGoogleForms(w http.ResponseWriter) {
	origin := s.svc.GoogleAuthOrigin()
	if origin == "" || strings.ContainsAny(origin, " ;'") {
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "form-action 'self'", "form-action 'self' "+origin, 1))
}

// loginData is the data of the login page, whose form for Google may lead
// there.
func (s *server) loginData(w http.ResponseWriter, v *view) map[string]any {
	s.allowGoogleForms(w)
	d, _ := v.Data.(map[string]any)
	if d == nil {
		d = map[string]any{}
	}
	d["Google"] = s.svc.GoogleEnabled()
	v.Data = d
	return d
}

// loginError shows the login page again with err (Google unreachable
// included, 503).
func (s *server) loginError(w http.ResponseWriter, r *http.Request, v *view, err error) error {
	v.Title = "Log in"
	s.loginData(w, v)
	if providerDown(err) {
		v.Error = sentence(portal.ErrorMessage(err))
		retryAfter(w, err)
		s.render(w, r, http.StatusServiceUnavailable, "login", v)
		return nil
	}
	return s.formError(w, r, v, "login", err)
}

// webGoogleLoginStart is POST /login/google, the login page's "Sign in
// with Google": it binds a new flow to this browser (cookie) and sends it
// to Google's sign-in page.
func (s *server) webGoogleLoginStart(w http.ResponseWriter, r *http.Request, v *view) error {
	next := r.PostForm.Get("next")
	if next != "" {
		next = localPath(next)
	}
	st, err := s.svc.StartGoogleLogin(r.Context(), next, oauthFlowKey(r), false, client(r))
	if err != nil {
		return s.loginError(w, r, v, err)
	}
	s.setOAuthFlowCookie(w, st.BrowserKey)
	http.Redirect(w, r, st.AuthorizationURL, http.StatusSeeOther)
	return nil
}

// webGoogleCallback is GET /oauth/google/callback?code=…&state=…, where
// Google sends the browser back: it finishes the link or the sign-in that
// this browser started.
func (s *server) webGoogleCallback(w http.ResponseWriter, r *http.Request) {
	v := &view{}
	q := r.URL.Query()
	cb := app.GoogleCallback{Code: q.Get("code"), State: q.Get("state"), Error: q.Get("error"), BrowserKey: oauthFlowKey(r)}
	info, err := s.svc.GoogleFlow(r.Context(), cb.State)
	if err != nil {
		s.callbackError(w, r, v, err)
		return
	}
	if info.ViaAPI {
		// Started by an API client: it finishes with the code, which this
		// page shows (useless without the client's session or cookie).
		v.Title = "Sign in with Google"
		v.Data = map[string]any{"Code": cb.Code, "Error": cb.Error}
		s.render(w, r, http.StatusOK, "google_code", v)
		return
	}
	if info.Purpose == "link" {
		s.page(func(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
			l, err := s.svc.FinishGoogleLink(r.Context(), a, cb)
			if err != nil {
				return s.socialError(w, r, v, a, err)
			}
			s.flashIn(w, socialSection, "Your account is now linked to the Google account "+l.Email+": you can sign in with Google.")
			http.Redirect(w, r, localPath(info.Forward), http.StatusSeeOther)
			return nil
		}).ServeHTTP(w, r)
		return
	}
	res, forward, err := s.svc.GoogleLogin(r.Context(), cb, loginClient(r))
	if err != nil {
		s.callbackError(w, r, v, err)
		return
	}
	s.clearOAuthFlowCookie(w)
	s.setSessionCookies(w, res)
	if res.TwoFactorRequired { // the second page of the login (web_twofactor.go)
		http.Redirect(w, r, "/login/two_factor?next="+urlQuery(localPath(forward)), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, localPath(forward), http.StatusSeeOther)
}

// callbackError shows a failed sign-in with Google on the login page.
func (s *server) callbackError(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if err := s.loginError(w, r, v, err); err != nil {
		s.webError(w, r, v, err)
	}
}
