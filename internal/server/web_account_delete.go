package server

import (
	"net/http"

	"portal/internal/app"
)

// User icon ▸ Utilities ▸ Delete Account: a confirmation page that says
// what the deletion does (app/account_delete.go), with the password (and
// code) it asks for; Yes deletes the account and shows the login page.

// deleteAccountView is the data of the Delete Account page.
type deleteAccountView struct {
	*app.AccountDeletion
	TwoFactor bool   // a code is asked for too
	Retention string // how long the organizations keep the audit entries
	Retry     bool   // shown again after a failed attempt
}

func (s *server) deleteAccountView(r *http.Request, a *app.Actor, v *view) error {
	d, err := s.svc.PreviewAccountDeletion(r.Context(), a)
	if err != nil {
		return err
	}
	v.Title = "Delete Account"
	v.Data = &deleteAccountView{AccountDeletion: d, TwoFactor: a.TwoFactor.Verified, Retention: app.Lifetime(app.DeletedUserAuditRetention),
		Retry: r.Method == http.MethodPost}
	return nil
}

func (s *server) webDeleteAccountForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	if err := s.deleteAccountView(r, a, v); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "account_delete", v)
	return nil
}

func (s *server) webDeleteAccount(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	_, err := s.svc.DeleteAccount(r.Context(), a, app.Reauth{Password: r.PostForm.Get("password"), TwoFactor: r.PostForm.Get("two_factor")})
	if err != nil {
		if verr := s.deleteAccountView(r, a, v); verr != nil {
			return verr
		}
		return s.formError(w, r, v, "account_delete", err)
	}
	s.clearSessionCookies(w)
	s.flash(w, "Your account is deleted. We sent a confirmation to "+a.User.Email+".")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
