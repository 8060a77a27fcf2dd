package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"portal"
	"portal/internal/authn"
	"portal/internal/secevent"
	"portal/internal/store"
)

// twoFactorChange is a change of the enrolment prepared by UpdateSelf
// before its transaction.
type twoFactorChange struct {
	start   string // the sealed secret of a new enrolment
	cancel  bool   // drop an enrolment that was never verified
	disable *twoFactorProof
}

// prepareTwoFactor checks the two-factor part of an account change: turning
// it on makes a fresh secret (unless it is active already: nothing
// changes); turning it off needs, once it is active, the current password
// and a current code or a recovery code. It returns nil when nothing is to
// change.
func (s *Service) prepareTwoFactor(ctx context.Context, a *Actor, in SelfInput) (*twoFactorChange, error) {
	if in.EnableTwoFactor == nil {
		return nil, nil
	}
	if err := requireSession(a, OpChangeTwoFactor); err != nil {
		return nil, err
	}
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if *in.EnableTwoFactor {
		if tf != nil && tf.Verified {
			return nil, nil
		}
		if err := s.enrolmentProof(ctx, a, deref(in.CurrentPassword)); err != nil {
			return nil, err
		}
		secret, err := authn.NewTOTPSecret()
		if err != nil {
			return nil, err
		}
		sealed, err := s.box.Seal([]byte(secret))
		if err != nil {
			return nil, err
		}
		return &twoFactorChange{start: sealed}, nil
	}
	switch {
	case tf == nil:
		return nil, nil
	case !tf.Verified:
		return &twoFactorChange{cancel: true}, nil
	}
	pw, code := deref(in.CurrentPassword), deref(in.TwoFactor)
	if pw == "" || strings.TrimSpace(code) == "" {
		field := "current_password"
		if pw != "" {
			field = "two_factor"
		}
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"current_password_required": true, "two_factor_required": true, "field": field},
			Message: "to turn off two-factor authentication, give your current password and a code from your authenticator app (or a recovery code)"}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, u, pw, "current_password"); err != nil {
		return nil, err
	}
	proof, err := s.checkSecondFactor(ctx, u, tf, code)
	if err != nil {
		return nil, err
	}
	return &twoFactorChange{disable: proof}, nil
}

// enrolmentProof checks that the actor may set up two-factor
// authentication (start it, or verify it): only in a session, not with an
// API token, and only in a privileged session (logged in within
// privilegedFor, the rule of password changes) or with the current
// password. Otherwise whoever held a session or a token could turn it on
// with a secret of their own and lock the owner out.
func (s *Service) enrolmentProof(ctx context.Context, a *Actor, password string) error {
	if err := requireSession(a, OpChangeTwoFactor); err != nil {
		return err
	}
	if password == "" {
		if s.SessionPrivileged(a) {
			return nil
		}
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"reauthentication_required": true, "current_password_required": true, "field": "current_password"},
			Message: fmt.Sprintf("to set up two-factor authentication, give your current password (or log in again: without it, setting it up is allowed only within %d minutes of logging in)", portal.PrivilegedSessionMinutes)}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return err
	}
	return s.checkCurrentPassword(ctx, u, password, "current_password")
}

// SessionPrivileged reports whether the actor's session logged in with the
// password within the last PrivilegedSessionMinutes: it may then change the
// password or set up two-factor authentication without giving the current
// password.
func (s *Service) SessionPrivileged(a *Actor) bool {
	return a.Session != nil && !a.Session.PasswordOnly && s.clock().Sub(a.Session.AuthTime) <= privilegedFor
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// commitTwoFactor writes a prepared change in UpdateSelf's transaction.
func (s *Service) commitTwoFactor(ctx context.Context, w *writer, a *Actor, u *portal.User, ch *twoFactorChange) error {
	if ch == nil {
		return nil
	}
	now := s.clock()
	switch {
	case ch.start != "":
		if err := w.tx.StartTwoFactor(ctx, u.ID, ch.start, now); err != nil {
			if errors.Is(err, store.ErrTwoFactorActive) {
				return portal.Errorf(portal.ECONFLICT, "two-factor authentication was verified meanwhile, perhaps in another window; reload")
			}
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Started setting up two-factor authentication", nil, map[string]any{"two_factor_verified": false})
	case ch.cancel:
		if _, err := w.tx.DeleteTwoFactor(ctx, u.ID); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Cancelled setting up two-factor authentication", nil, nil)
	}
	if err := s.commitProof(ctx, w, a, u, ch.disable); err != nil {
		return err
	}
	if _, err := w.tx.DeleteTwoFactor(ctx, u.ID); err != nil {
		return err
	}
	if err := limitTwoFactor.reset(ctx, w.tx, u.ID); err != nil {
		return err
	}
	if err := w.mail(ctx, u.Email, "twofactor_disabled", s.twoFactorMail(u, "/recover")); err != nil {
		return err
	}
	return w.audit(ctx, u, a.IP, "", "", "Disabled two-factor authentication", map[string]any{"enable_two_factor": true},
		map[string]any{"enable_two_factor": false, "confirmed_with": ch.disable.kind()})
}

// applied updates the actor after UpdateSelf committed ch.
func (ch *twoFactorChange) applied(a *Actor) {
	if ch == nil {
		return
	}
	st := &a.TwoFactor
	switch {
	case ch.start != "":
		st.Enabled, st.Verified = true, false
	default:
		st.Enabled, st.Verified, st.Pending = false, false, false
	}
}

// TwoFactorSecret returns the secret of an enrolment waiting for
// verification and its otpauth:// URI (issuer "Portal", the e-mail address
// as account name). Once verified, the secret is never shown again.
func (s *Service) TwoFactorSecret(ctx context.Context, a *Actor) (secret, uri string, err error) {
	defer wrap(&err, "TwoFactorSecret")
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return "", "", err
	}
	if tf == nil {
		return "", "", notEnrolled()
	}
	if !tf.Verified {
		if err := requireSession(a, OpChangeTwoFactor); err != nil {
			return "", "", err
		}
	}
	if tf.Verified {
		return "", "", portal.Errorf(portal.EINVALID, "two-factor authentication is already verified: its secret is shown only while it is being set up (turn it off and on again for a new one)")
	}
	if secret, err = s.openTOTPSecret(ctx, a.User, tf); err != nil {
		return "", "", err
	}
	uri, err = authn.TOTPURI(secret, a.User.Email)
	return secret, uri, err
}

// TwoFactorQRCode returns the QR code of the enrolment's otpauth:// URI as a
// PNG.
func (s *Service) TwoFactorQRCode(ctx context.Context, a *Actor) (_ []byte, err error) {
	defer wrap(&err, "TwoFactorQRCode")
	secret, _, err := s.TwoFactorSecret(ctx, a)
	if err != nil {
		return nil, err
	}
	return authn.TOTPQRCode(secret, a.User.Email, qrCodeSize)
}

// VerifyTwoFactor checks a code from the authenticator app. The first
// correct code activates two-factor authentication: the current session
// counts as having passed it, 10 recovery codes are made and returned (to
// show once), and the change is audit-logged and mailed. Once active, a
// correct code just passes the second factor for the session (Mist) and no
// codes are returned.
//
// Activating needs what starting does (enrolmentProof): a session, logged
// in within the last minutes or giving the current password (password).
func (s *Service) VerifyTwoFactor(ctx context.Context, a *Actor, code, password string) (_ []string, err error) {
	defer wrap(&err, "VerifyTwoFactor")
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if tf == nil {
		return nil, notEnrolled()
	}
	if tf.Verified {
		return nil, s.PassTwoFactor(ctx, a, code)
	}
	if err := s.enrolmentProof(ctx, a, password); err != nil {
		return nil, err
	}
	code = compactCode(code)
	if err := checkCodeFormat(code, false); err != nil {
		return nil, err
	}
	u := a.User
	if err := s.twoFactorLocked(ctx, u.ID); err != nil {
		return nil, err
	}
	step, ok, err := s.matchTOTP(ctx, u, tf, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.wrongCode(ctx, a, u, "the code is not correct: type the code your authenticator app shows now for Portal, and check that your device's clock is right")
	}
	codes, ids, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.ActivateTwoFactor(ctx, u.ID, tf.Secret, step, now); err != nil {
			if errors.Is(err, store.ErrCodeUsed) {
				return portal.Errorf(portal.EINVALID, "this code was already used, or two-factor authentication was set up again meanwhile: reload, and type the next code your app shows")
			}
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, ids, hashes, now); err != nil {
			return err
		}
		if a.Session != nil {
			if err := tx.PassSessionTwoFactor(ctx, a.Session.ID); err != nil {
				return err
			}
		}
		if err := limitTwoFactor.reset(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := w.mail(ctx, u.Email, "twofactor_enabled", s.twoFactorMail(u, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Enabled two-factor authentication", map[string]any{"two_factor_verified": false},
			map[string]any{"two_factor_verified": true, "recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, err
	}
	secevent.Log(ctx, s.log, secevent.TwoFactorEnabled, u.ID)
	a.TwoFactor.Enabled, a.TwoFactor.Verified, a.TwoFactor.Pending = true, true, false
	a.TwoFactor.Required, a.TwoFactor.EnrolDue = false, false
	if a.Session != nil {
		a.Session.TwoFactorPassed, a.TwoFactor.Passed = true, true
	}
	return codes, nil
}

// notEnrolled is the refusal of a step of enrolment before it was started.
func notEnrolled() error {
	return &portal.Error{Code: portal.ENOTFOUND, Fields: map[string]any{"field": "enable_two_factor"},
		Message: "two-factor authentication is not enabled: turn it on first (enable_two_factor)"}
}
