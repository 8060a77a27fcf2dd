package server

import (
	"context"
	"net/http"
	"time"

	"portal"
	"portal/internal/app"
)

// My Account ▸ Password: changing the password under the organizations' policies.

// passwordSection is the data of the Password section of My Account.
type passwordSection struct {
	Policy       *app.EffectivePolicy
	NeedsOld     bool      // the current password is asked for
	PasswordOnly bool      // the session came from a recovery link
	Expired      bool      // the password has expired
	Modified     time.Time // when the password was last set
	ExpiresAt    time.Time // zero: never
}

// sectionPassword is the Password section: current password, new password
// and its confirmation, beside the rules that apply and who imposes them.
func (s *server) sectionPassword() accountSection {
	return accountSection{
		name:  "password",
		title: "Password",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			ep, err := s.svc.PasswordPolicyFor(ctx, a.User.ID)
			if err != nil {
				return nil, err
			}
			only := a.Session != nil && a.Session.PasswordOnly
			return &passwordSection{Policy: ep, NeedsOld: !only, PasswordOnly: only, Expired: a.PasswordExpired,
				Modified: a.User.PasswordModifiedTime, ExpiresAt: app.PasswordExpiresAt(a.User, ep)}, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			f := r.PostForm
			pw := f.Get("new_password")
			if pw == "" {
				return "", nil, withField(portal.Errorf(portal.EINVALID, "type the new password"), "new_password")
			}
			if err := confirmPassword(f, "new_password"); err != nil {
				return "", nil, withField(err, "new_password_confirm")
			}
			in := app.SelfInput{Password: &pw}
			if old := f.Get("current_password"); old != "" {
				in.OldPassword = &old
			}
			if _, err := s.svc.UpdateSelf(r.Context(), a, in); err != nil {
				return "", nil, err
			}
			return "Your password has been changed. Your other sessions were signed out.", nil, nil
		},
	}
}
