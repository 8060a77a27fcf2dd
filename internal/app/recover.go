package app

import (
	"context"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/secevent"
	"portal/internal/store"
)

const (
	purposeRecover = "recover"
	RecoverTTL     = time.Hour // validity of a recovery link
	// recoverSessionTTL is the life of the password-only session a
	// recovery link opens when no password comes with it.
	recoverSessionTTL = 15 * time.Minute
)

// RequestRecovery mails a password recovery link to the account of email,
// if there is one. The answer is the same whether or not there is, so the
// request reveals nothing. Requests are limited per client address (429,
// limitRecoverAddress) and mails per address (limitRecoverMail, silently:
// the answer stays the same).
//
// With two-factor authentication active, following the link also needs a
// code or a recovery code (VerifyRecovery).
func (s *Service) RequestRecovery(ctx context.Context, email string, c Client) (err error) {
	defer wrap(&err, "RequestRecovery")
	email, err = cleanEmail(email)
	if err != nil {
		return err
	}
	token, err := authn.NewToken()
	if err != nil {
		return err
	}
	now := s.clock()
	if err := s.checkLimits(ctx, now, limitKey{limitRecoverAddress, c.IP}); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if _, _, err := limitRecoverAddress.record(ctx, tx, c.IP, now); err != nil {
			return err
		}
		// Mail to one address is capped, whoever asks and whether or not
		// it has an account.
		if n, _, err := limitRecoverMail.record(ctx, tx, lower(email), now); err != nil || n > limitRecoverMail.max {
			return err
		}
		u, err := tx.GetUserByEmail(ctx, email)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		t := &store.EmailToken{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID, Purpose: purposeRecover, Email: u.Email,
			Created: now, Expires: now.Add(RecoverTTL)}
		if err := tx.CreateEmailToken(ctx, t); err != nil { // replaces an older pending link
			return err
		}
		if err := w.mail(ctx, u.Email, "recover", mail.LinkData{Name: u.FirstName, Email: u.Email,
			Link: s.link("/recover/verify?token=" + token), BaseURL: s.baseURL, ExpiresIn: Lifetime(RecoverTTL)}); err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Requested a password recovery link", nil, nil)
	})
}

// recoveryLink finds the user of a usable recovery link.
func (s *Service) recoveryLink(ctx context.Context, token string) (*store.EmailToken, *portal.User, error) {
	if token == "" || len(token) > 128 {
		return nil, nil, invalidLink()
	}
	t, err := s.db.GetEmailToken(ctx, authn.HashToken(token), purposeRecover)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, nil, invalidLink()
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkLink(t.Used, t.Expires); err != nil {
		return nil, nil, err
	}
	u, err := s.db.GetUser(ctx, t.UserID)
	if portal.ErrorCode(err) == portal.ENOTFOUND || err == nil && !sameEmail(u.Email, t.Email) {
		return nil, nil, invalidLink() // the account is gone, or its address changed since
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled() { // by an operator (operator.go)
		return nil, nil, errDisabled(portal.EFORBIDDEN)
	}
	return t, u, nil
}

// RecoveryLink checks a recovery link without using it, and returns the
// policy the new password must follow (for the page that asks for it).
func (s *Service) RecoveryLink(ctx context.Context, token string) (_ *EffectivePolicy, err error) {
	defer wrap(&err, "RecoveryLink")
	_, u, err := s.recoveryLink(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.PasswordPolicyFor(ctx, u.ID)
}

// VerifyRecovery uses a recovery link (once). Without a password it opens a
// password-only session that can do nothing but set a new password (PUT
// /api/v1/self), as Mist does; with one (our addition, and what the GUI
// does) it sets that password under the user's policy at once and opens a
// full session. Setting the password clears the reset-required flag, signs
// out every other session, mails a notice and is audit-logged. A password
// that breaks the policy leaves the link unused. When the account has
// two-factor authentication, twoFactor (a code or a recovery code) is
// required too: the mailbox alone does not open it (recoveryProof, twofactor_codes.go).
func (s *Service) VerifyRecovery(ctx context.Context, token string, password *string, twoFactor string, c Client) (_ *LoginResult, err error) {
	defer wrap(&err, "VerifyRecovery")
	t, u, err := s.recoveryLink(ctx, token)
	if err != nil {
		return nil, err
	}
	proof, err := s.recoveryProof(ctx, u, twoFactor) // nil without two-factor authentication
	if err != nil {
		return nil, err
	}
	var pc *passwordChange
	if password != nil {
		ep, err := s.PasswordPolicyFor(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		normal, err := s.checkUserPassword(ctx, u, *password, ep)
		if err != nil {
			return nil, err
		}
		hash, err := s.hasher.Hash(ctx, normal) // outside the transaction
		if err != nil {
			return nil, err
		}
		pc = &passwordChange{oldHash: u.PasswordHash, newHash: hash, recovery: true, email: u.Email}
	}
	sessToken, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	csrf, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	now := s.clock()
	// The session starts password-only; commitPassword makes it a full one
	// when the password is set in the same call.
	sess := &portal.Session{ID: newID(), TokenHash: authn.HashToken(sessToken), UserID: u.ID, CSRFToken: csrf,
		CreatedTime: now, LastSeenTime: now, ExpiresTime: now.Add(recoverSessionTTL), AuthTime: now,
		PasswordOnly: true, TwoFactorPassed: proof != nil, IP: c.IP, UserAgent: portal.Truncate(c.UserAgent, 512)}
	a := &Actor{User: u, Session: sess, IP: c.IP}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UseEmailToken(ctx, t.ID, now); err != nil {
			return linkSpent(err)
		}
		if proof != nil {
			if err := s.commitProof(ctx, w, a, u, proof); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if pc == nil {
			return w.audit(ctx, u, c.IP, "", "", "Opened a password recovery link", nil, nil)
		}
		return s.commitPassword(ctx, w, a, u, pc)
	})
	if err != nil {
		return nil, err
	}
	if pc != nil {
		secevent.Log(ctx, s.log, secevent.PasswordChanged, u.ID, "how", "recovery")
	}
	return &LoginResult{Token: sessToken, Session: sess, User: u}, nil
}

// recoveryProof is the second factor a password recovery link needs when
// the account has two-factor authentication: nil when it has none.
func (s *Service) recoveryProof(ctx context.Context, u *portal.User, code string) (*twoFactorProof, error) {
	tf, err := s.getTwoFactor(ctx, u.ID)
	if err != nil || tf == nil || !tf.Verified {
		return nil, err
	}
	if strings.TrimSpace(code) == "" {
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"two_factor_required": true},
			Message: "this account uses two-factor authentication: also give a code from your authenticator app or a recovery code"}
	}
	return s.checkSecondFactor(ctx, u, tf, code)
}

// RecoveryLinkTwoFactor reports whether a usable recovery link belongs to
// an account with two-factor authentication (its page then asks for a code).
func (s *Service) RecoveryLinkTwoFactor(ctx context.Context, token string) (_ bool, err error) {
	defer wrap(&err, "RecoveryLinkTwoFactor")
	_, u, err := s.recoveryLink(ctx, token)
	if err != nil {
		return false, err
	}
	return s.twoFactorActive(ctx, u.ID)
}
