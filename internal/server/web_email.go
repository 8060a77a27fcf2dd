package server

import (
	"context"
	"net/http"

	"portal"
	"portal/internal/app"
)

// E-mail change in the GUI: the Change Email window of Account Information
// (with /account/email as its page without JavaScript), the verification
// link's page and the "this wasn't me" page.

// infoView is the data of the Account Information section and of the
// Change Email window.
type infoView struct {
	Pending *app.EmailChange // nil: no e-mail change pending
	// TwoFactor: two-factor authentication is on, so Change Email asks for
	// a code besides the password.
	TwoFactor bool
	// Retry: the Change Email page is shown again after an error, with the
	// address kept: the focus goes to the password, which is never kept.
	Retry bool
}

func (s *server) loadInfo(ctx context.Context, a *app.Actor) (any, error) {
	v := &infoView{TwoFactor: a.TwoFactor.Verified}
	p, err := s.svc.PendingEmailChange(ctx, a)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	v.Pending = p
	return v, nil
}

// webEmailForm is the Change Email window as a page.
func (s *server) webEmailForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title = "Change Email"
	v.Data = &infoView{TwoFactor: a.TwoFactor.Verified}
	s.render(w, r, http.StatusOK, "change_email", v)
	return nil
}

func (s *server) webEmailRequest(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title = "Change Email"
	v.Data = &infoView{TwoFactor: a.TwoFactor.Verified, Retry: r.PostForm.Get("email") != ""}
	ch, err := s.svc.RequestEmailChange(r.Context(), a, r.PostForm.Get("email"),
		app.Reauth{Password: r.PostForm.Get("password"), TwoFactor: r.PostForm.Get("two_factor")})
	if err != nil {
		return s.formError(w, r, v, "change_email", err)
	}
	s.flashIn(w, "info", "We sent a link to "+ch.Email+". Follow it within "+app.Lifetime(app.EmailChangeTTL)+" to confirm your new email address.")
	http.Redirect(w, r, "/account#info", http.StatusSeeOther)
	return nil
}

func (s *server) webEmailResend(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	ch, err := s.svc.ResendEmailChange(r.Context(), a)
	if err != nil {
		return s.accountError(w, r, v, a, err)
	}
	s.flashIn(w, "info", "We sent a new link to "+ch.Email+". The previous one no longer works.")
	http.Redirect(w, r, "/account#info", http.StatusSeeOther)
	return nil
}

func (s *server) webEmailCancel(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	if err := s.svc.CancelEmailChange(r.Context(), a); err != nil {
		return s.accountError(w, r, v, a, err)
	}
	s.flashIn(w, "info", "The change of your email address is cancelled. Your email address stays "+a.User.Email+".")
	http.Redirect(w, r, "/account#info", http.StatusSeeOther)
	return nil
}

// accountError shows My Account with err in Account Information.
func (s *server) accountError(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, err error) error {
	return s.reshow(w, r, v, err, func(status int) error { return s.renderAccount(w, r, v, a, status, "info", nil, err) })
}

// emailLinkView is the data of the pages behind mailed links.
type emailLinkView struct {
	Token string
	Email string // the address the link sets
	Done  bool   // the revert is done
}

// webEmailVerifyForm is where the verification link leads: a signed-in
// user confirms with a button (a GET changes nothing); others log in
// first and come back here.
func (s *server) webEmailVerifyForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title = "Confirm your new email address"
	token := r.URL.Query().Get("token")
	email, err := s.svc.CheckEmailChange(r.Context(), a, token)
	if err != nil {
		return err
	}
	v.Data = &emailLinkView{Token: token, Email: email}
	s.render(w, r, http.StatusOK, "email_verify", v)
	return nil
}

func (s *server) webEmailVerify(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	u, err := s.svc.ConfirmEmailChange(r.Context(), a, r.PostForm.Get("token"))
	if err != nil {
		return err
	}
	s.flashIn(w, "info", "Your email address is successfully updated. It is now "+u.Email+".")
	http.Redirect(w, r, "/account#info", http.StatusSeeOther)
	return nil
}

// webEmailRevertForm is where the "this wasn't me" link leads; no login
// is needed, and a GET changes nothing.
func (s *server) webEmailRevertForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Undo the email change"
	token := r.URL.Query().Get("token")
	email, err := s.svc.CheckEmailRevert(r.Context(), token)
	if err != nil {
		return err
	}
	v.Data = &emailLinkView{Token: token, Email: email}
	s.render(w, r, http.StatusOK, "email_revert", v)
	return nil
}

func (s *server) webEmailRevert(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Undo the email change"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	u, err := s.svc.RevertEmailChange(r.Context(), r.PostForm.Get("token"), client(r))
	if err != nil {
		return err
	}
	v.Title = "Email address restored"
	v.Data = &emailLinkView{Email: u.Email, Done: true}
	s.render(w, r, http.StatusOK, "email_revert", v)
	return nil
}
