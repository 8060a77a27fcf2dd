package server

import (
	"net/http"

	"portal/internal/app"
)

// E-mail change: POST /api/v1/self/update and GET
// /api/v1/self/update/verify/{token} as Mist has them; the rest is ours.

// emailChangeJSON is a pending e-mail change (ours).
type emailChangeJSON struct {
	Email       string `json:"email"`
	CreatedTime int64  `json:"created_time"`
	ExpireTime  int64  `json:"expire_time"`
}

func toEmailChangeJSON(c *app.EmailChange) emailChangeJSON {
	return emailChangeJSON{Email: c.Email, CreatedTime: c.Created.Unix(), ExpireTime: c.Expires.Unix()}
}

func emailSentDetail(email string) map[string]any {
	return detail("we sent a link to " + email + "; follow it within " + app.Lifetime(app.EmailChangeTTL) + ", logged in as yourself, to confirm the change")
}

// emailChangeRequest is the body of POST /api/v1/self/update: Mist's
// email, and the re-authentication Portal asks for (password, and
// two_factor when two-factor authentication is on).
type emailChangeRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	TwoFactor string `json:"two_factor"`
}

func (s *server) apiRequestEmailChange(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in emailChangeRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ch, err := s.svc.RequestEmailChange(r.Context(), a, in.Email, app.Reauth{Password: in.Password, TwoFactor: in.TwoFactor})
	if err != nil {
		return err
	}
	return ok(w, emailSentDetail(ch.Email))
}

// apiVerifyEmailChange is Mist's GET that confirms a change. It changes
// state, so routes.go gives it the cross-origin checks of unsafe requests
// (unsafeGET); browsers use the GUI's page, which confirms with a POST.
func (s *server) apiVerifyEmailChange(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	u, err := s.svc.ConfirmEmailChange(r.Context(), a, r.PathValue("token"))
	if err != nil {
		return err
	}
	return ok(w, detail("your email address is now "+u.Email))
}

func (s *server) apiPendingEmailChange(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	ch, err := s.svc.PendingEmailChange(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, toEmailChangeJSON(ch))
}

func (s *server) apiResendEmailChange(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	ch, err := s.svc.ResendEmailChange(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, emailSentDetail(ch.Email))
}

func (s *server) apiCancelEmailChange(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	if err := s.svc.CancelEmailChange(r.Context(), a); err != nil {
		return err
	}
	return ok(w, detail("the email change is cancelled; its link no longer works"))
}

// apiRevertEmailChange needs no session: the link comes from the old mailbox.
func (s *server) apiRevertEmailChange(w http.ResponseWriter, r *http.Request) error {
	u, err := s.svc.RevertEmailChange(r.Context(), r.PathValue("token"), client(r))
	if err != nil {
		return err
	}
	return ok(w, detail(revertDoneMessage(u.Email)))
}

func revertDoneMessage(email string) string {
	return "the email address " + email + " is restored and every session is signed out; choose a new password with Forgot password? on the login page before you log in again"
}
