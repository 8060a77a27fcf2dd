package server

import (
	"net/http"
	"strings"

	"portal"
	"portal/internal/app"
)

// Password recovery in the GUI: asking for a link, and the page the link
// opens to set a new password (api_recover.go is the API).

// recoverView is the data of the recovery pages.
type recoverView struct {
	Token     string
	Policy    *app.EffectivePolicy
	Broken    bool // the link cannot be used
	TwoFactor bool // the account has two-factor authentication: ask for a code too
}

func (s *server) webRecoverForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Forgot your password?"
	v.Form = r.URL.Query()
	s.render(w, r, http.StatusOK, "recover", v)
	return nil
}

func (s *server) webRecover(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Forgot your password?"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	email := r.PostForm.Get("email")
	if err := s.svc.RequestRecovery(r.Context(), email, client(r)); err != nil {
		return s.formError(w, r, v, "recover", err)
	}
	v.Title = "Check your email"
	v.Data = map[string]any{"Email": strings.TrimSpace(email)}
	s.render(w, r, http.StatusOK, "recover_sent", v)
	return nil
}

// webRecoverVerifyForm shows the page of a recovery link: a new password
// under the policy. Opening it does not use the link (mail scanners open
// links too); setting the password does.
func (s *server) webRecoverVerifyForm(w http.ResponseWriter, r *http.Request, v *view) error {
	token := r.URL.Query().Get("token")
	return s.renderRecoverVerify(w, r, v, token, http.StatusOK)
}

func (s *server) renderRecoverVerify(w http.ResponseWriter, r *http.Request, v *view, token string, status int) error {
	v.Title = "Choose a new password"
	rv := &recoverView{Token: token}
	ep, err := s.svc.RecoveryLink(r.Context(), token)
	if err != nil {
		if errorStatus(err) >= 500 {
			return err
		}
		rv.Broken, rv.Token = true, ""
		v.Error = sentence(portal.ErrorMessage(err))
		status = errorStatus(err)
	}
	rv.Policy = ep
	if !rv.Broken {
		if rv.TwoFactor, err = s.svc.RecoveryLinkTwoFactor(r.Context(), token); err != nil {
			return err
		}
	}
	v.Data = rv
	s.render(w, r, status, "recover_verify", v)
	return nil
}

func (s *server) webRecoverVerify(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	f := r.PostForm
	token, pw := f.Get("token"), f.Get("new_password")
	var err error
	switch {
	case pw == "":
		err = portal.Errorf(portal.EINVALID, "type the new password")
	default:
		err = confirmPassword(f, "new_password")
	}
	var res *app.LoginResult
	if err == nil {
		res, err = s.svc.VerifyRecovery(r.Context(), token, &pw, f.Get("two_factor"), client(r))
	}
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderRecoverVerify(w, r, v, token, status) })
	}
	s.setSessionCookies(w, res)
	s.flash(w, "Your new password is set, your other sessions were signed out and your API tokens deleted, and you are logged in.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
