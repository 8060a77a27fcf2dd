package server

import (
	"errors"
	"net/http"

	"portal"
	"portal/internal/app"
)

// The pages before a session: logging in (the second factor is in
// web_twofactor.go), signing up and verifying the address; and logging out.

func (s *server) webLoginForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Log in"
	v.Form = r.URL.Query()
	s.loginData(w, v) // Sign in with Google (web_google.go)
	s.render(w, r, http.StatusOK, "login", v)
	return nil
}

func (s *server) webLogin(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Log in"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	res, err := s.svc.Login(r.Context(), r.PostForm.Get("email"), r.PostForm.Get("password"), loginClient(r))
	if err != nil {
		var e *portal.Error
		if errors.As(err, &e) && e.Fields["email_not_verified"] == true {
			v.Data = map[string]any{"Unverified": true}
		}
		s.loginData(w, v)
		return s.formError(w, r, v, "login", err)
	}
	s.setSessionCookies(w, res)
	if res.TwoFactorRequired { // the second page of the login (web_twofactor.go)
		http.Redirect(w, r, "/login/two_factor?next="+urlQuery(localPath(r.PostForm.Get("next"))), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

func (s *server) webSignupForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Sign up"
	s.render(w, r, http.StatusOK, "signup", v)
	return nil
}

func (s *server) webSignup(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Sign up"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	f := r.PostForm
	if err := confirmPassword(f, "password"); err != nil {
		return s.formError(w, r, v, "signup", err)
	}
	err := s.svc.Register(r.Context(), app.RegisterInput{Email: f.Get("email"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Password: f.Get("password"), OrgName: f.Get("org_name")}, client(r))
	if err != nil {
		return s.formError(w, r, v, "signup", err)
	}
	v.Title = "Check your email"
	v.Data = map[string]any{"Email": f.Get("email")}
	s.render(w, r, http.StatusOK, "signup_done", v)
	return nil
}

// webVerifyForm is where the sign-up link leads: a Verify button, or,
// for a link that can no longer be followed (used, expired or replaced),
// why, and no button (verify.html).
func (s *server) webVerifyForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Verify your email address"
	v.Form = r.URL.Query()
	if err := s.svc.CheckRegistration(r.Context(), v.Form.Get("token")); err != nil {
		return s.formError(w, r, v, "verify", err)
	}
	s.render(w, r, http.StatusOK, "verify", v)
	return nil
}

func (s *server) webVerify(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Verify your email address"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	u, err := s.svc.VerifyRegistration(r.Context(), r.PostForm.Get("token"), client(r))
	if err != nil {
		return s.formError(w, r, v, "verify", err)
	}
	s.flash(w, "Your email address "+u.Email+" is verified. You can log in now.")
	http.Redirect(w, r, "/login?email="+urlQuery(u.Email), http.StatusSeeOther)
	return nil
}

func (s *server) webResend(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Log in"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	email := r.PostForm.Get("email")
	if err := s.svc.ResendVerification(r.Context(), email, client(r)); err != nil {
		return s.formError(w, r, v, "login", err)
	}
	s.flash(w, "If "+email+" has an account waiting for verification, a new link is on its way.")
	http.Redirect(w, r, "/login?email="+urlQuery(email), http.StatusSeeOther)
	return nil
}

func (s *server) webLogout(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	if err := s.svc.Logout(r.Context(), a); err != nil {
		return err
	}
	s.clearSessionCookies(w)
	s.flash(w, "You have been logged out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
