package server

import (
	"context"
	"net/http"
	"net/url"

	"portal"
	"portal/internal/app"
)

// Two-factor authentication in the GUI: the Authentication section of My
// Account (_account_authentication.html), the "Verification of Two Factor
// Authentication" page with its QR code, the recovery codes, and the second
// page of a login (login_2fa.html).

// twoFactorSection is the name of the My Account section (POST
// /account/authentication, #authentication).
const twoFactorSection = "authentication"

// twoFactorSectionData is the data of the Authentication section.
type twoFactorSectionData struct {
	State    app.TwoFactorState
	Recovery *app.RecoveryCodeStatus // when active
	// NeedsPassword: turning it on asks for the current password (the
	// session logged in more than PrivilegedSessionMinutes ago).
	NeedsPassword bool
}

// sectionTwoFactor is My Account → Authentication: tick "Enable Two Factor
// Authentication" and Save to start; Verify finishes on its own page.
// Unticking needs the current password and a code.
func (s *server) sectionTwoFactor() accountSection {
	return accountSection{
		name:  twoFactorSection,
		title: "Authentication",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			d := &twoFactorSectionData{State: a.TwoFactor, NeedsPassword: !a.TwoFactor.Verified && !s.svc.SessionPrivileged(a)}
			if a.TwoFactor.Verified {
				st, err := s.svc.RecoveryCodes(ctx, a)
				if err != nil {
					return nil, err
				}
				d.Recovery = st
			}
			return d, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			f := r.PostForm
			enable := f.Get("enable_two_factor") != ""
			in := app.SelfInput{EnableTwoFactor: &enable}
			pw := f.Get("current_password")
			if !enable {
				code := f.Get("two_factor")
				in.CurrentPassword, in.TwoFactor = &pw, &code
			} else if pw != "" {
				in.CurrentPassword = &pw
			}
			before := a.TwoFactor
			if _, err := s.svc.UpdateSelf(r.Context(), a, in); err != nil {
				return "", nil, err
			}
			switch {
			case enable && before.Verified:
				return "Two-factor authentication is on.", nil, nil
			case enable:
				return "Your account is updated. Click Verify to finish turning on two-factor authentication.", nil, nil
			case before.Verified:
				return "Two-factor authentication is off. Your password alone now logs you in.", nil, nil
			case before.Enabled:
				return "Two-factor authentication was not verified and is now off.", nil, nil
			}
			return "Your account is updated.", nil, nil
		},
	}
}

// twoFactorVerifyView is the data of the verification page.
type twoFactorVerifyView struct {
	Secret        string
	Email         string
	NeedsPassword bool // the session is not privileged: ask for the current password
}

// webTwoFactorForm is GET /account/two_factor: the "Verification of Two
// Factor Authentication" page, with the QR code and the secret as text.
func (s *server) webTwoFactorForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderTwoFactorVerify(w, r, v, a, http.StatusOK)
}

func (s *server) renderTwoFactorVerify(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int) error {
	secret, _, err := s.svc.TwoFactorSecret(r.Context(), a)
	if err != nil {
		if errorStatus(err) >= 500 {
			return err
		}
		msg := "Tick “Enable Two Factor Authentication” and click Save first."
		if a.TwoFactor.Verified {
			msg = "Two-factor authentication is already verified."
		}
		s.flashIn(w, twoFactorSection, msg)
		http.Redirect(w, r, "/account#"+twoFactorSection, http.StatusSeeOther)
		return nil
	}
	v.Title, v.Data = "Verification of Two Factor Authentication", &twoFactorVerifyView{Secret: secret, Email: a.User.Email, NeedsPassword: !s.svc.SessionPrivileged(a)}
	s.render(w, r, status, "twofactor_verify", v)
	return nil
}

// webTwoFactorQR is GET /account/two_factor/qr.png: the QR code of the
// enrolment, shown as an image on the verification page.
func (s *server) webTwoFactorQR(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	png, err := s.svc.TwoFactorQRCode(r.Context(), a)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
	return nil
}

// recoveryCodesView is the data of the page that shows recovery codes.
type recoveryCodesView struct {
	Codes     []string
	Activated bool // two-factor authentication was just turned on
	Email     string
}

// webTwoFactorVerify is POST /account/two_factor: the token from the app.
// The first correct one turns two-factor authentication on and shows the
// recovery codes, once.
func (s *server) webTwoFactorVerify(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	codes, err := s.svc.VerifyTwoFactor(r.Context(), a, r.PostForm.Get("two_factor"), r.PostForm.Get("current_password"))
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderTwoFactorVerify(w, r, v, a, status) })
	}
	if codes == nil { // was verified already (another tab)
		s.flashIn(w, twoFactorSection, "Two-factor authentication is already verified.")
		http.Redirect(w, r, "/account#"+twoFactorSection, http.StatusSeeOther)
		return nil
	}
	v.Title, v.Flash = "Two-factor authentication is on", "Two-factor authentication is verified and turned on."
	v.Data = &recoveryCodesView{Codes: codes, Activated: true, Email: a.User.Email}
	s.render(w, r, http.StatusOK, "twofactor_codes", v)
	return nil
}

// webRecoveryCodes is GET /account/two_factor/recovery_codes: how many
// remain, and a form to make a new set.
func (s *server) webRecoveryCodes(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderRecoveryCodes(w, r, v, a, http.StatusOK)
}

func (s *server) renderRecoveryCodes(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int) error {
	st, err := s.svc.RecoveryCodes(r.Context(), a)
	if err != nil {
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			s.flashIn(w, twoFactorSection, "Recovery codes come with two-factor authentication: turn it on first.")
			http.Redirect(w, r, "/account#"+twoFactorSection, http.StatusSeeOther)
			return nil
		}
		return err
	}
	v.Title, v.Data = "Recovery codes", st
	s.render(w, r, status, "twofactor_recovery", v)
	return nil
}

// webRegenerateRecoveryCodes is POST /account/two_factor/recovery_codes:
// a new set (the old one stops working), shown once.
func (s *server) webRegenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	codes, err := s.svc.RegenerateRecoveryCodes(r.Context(), a, r.PostForm.Get("password"))
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderRecoveryCodes(w, r, v, a, status) })
	}
	v.Title, v.Flash = "Your new recovery codes", "New recovery codes are made. Your old codes no longer work."
	v.Data = &recoveryCodesView{Codes: codes, Email: a.User.Email}
	s.render(w, r, http.StatusOK, "twofactor_codes", v)
	return nil
}

// loginTwoFactorView is the data of the second page of a login.
type loginTwoFactorView struct {
	Email    string
	Next     string
	Recovery bool // ask for a recovery code instead of a code
}

// webLoginTwoFactorForm is GET /login/two_factor: the second page of a
// login, for a session that owes its second factor.
func (s *server) webLoginTwoFactorForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	next := localPath(r.URL.Query().Get("next"))
	if !a.TwoFactor.Pending {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return s.renderLoginTwoFactor(w, r, v, a, next, r.URL.Query().Get("recovery") != "", http.StatusOK)
}

func (s *server) renderLoginTwoFactor(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, next string, recovery bool, status int) error {
	v.Title = "Two-factor authentication"
	v.Data = &loginTwoFactorView{Email: a.User.Email, Next: next, Recovery: recovery}
	s.render(w, r, status, "login_2fa", v)
	return nil
}

// webLoginTwoFactor is POST /login/two_factor: a code from the app, or a
// recovery code.
func (s *server) webLoginTwoFactor(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	f := r.PostForm
	next, recovery := localPath(f.Get("next")), f.Get("recovery") != ""
	if !a.TwoFactor.Pending {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	token, err := s.svc.PassLoginTwoFactor(r.Context(), a, f.Get("two_factor"))
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderLoginTwoFactor(w, r, v, a, next, recovery, status) })
	}
	s.setRotatedSessionCookie(w, a, token) // the session's new token (auth.go)
	if recovery {
		s.flash(w, "You logged in with a recovery code; it will not work again. Make new codes in My Account → Authentication if you are running low.")
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// twoFactorGrace is the banner shown during an organization's grace period.
type twoFactorGrace struct {
	OrgName  string
	DaysLeft int
}

// twoFactorView adjusts a page's view to the actor's two-factor state:
// before the second factor nothing of the account shows (no user menu, no
// organizations); during a grace period the banner says how many days
// remain. It reports whether the account may be shown.
func twoFactorView(v *view, a *app.Actor) bool {
	if a.TwoFactor.Pending {
		v.User = nil
		return false
	}
	if st := a.TwoFactor; st.Required && !st.Verified && !st.EnrolDue {
		v.TwoFactorGrace = &twoFactorGrace{OrgName: st.RequiredBy, DaysLeft: st.GraceDaysLeft}
	}
	return true
}

// twoFactorRedirect is where page sends a browser that restrictTwoFactor
// refused: the second page of the login, or enrolment.
func twoFactorRedirect(r *http.Request, err error) (string, bool) {
	pending, enrol := twoFactorRefusal(err)
	switch {
	case pending:
		next := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = "/"
		}
		return "/login/two_factor?next=" + url.QueryEscape(next), true
	case enrol:
		return "/account#" + twoFactorSection, true
	}
	return "", false
}
