package app

import (
	"context"
	"errors"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/secevent"
	"portal/internal/store"
)

// E-mail change: the new address gets a link that changes the account's
// address only when followed by the signed-in owner; the old address then
// gets a "this wasn't me" link that undoes the change, signs out every
// session and requires a password reset.

const (
	purposeEmailChange = "email_change"
	purposeEmailRevert = "email_revert"

	EmailChangeTTL = 24 * time.Hour // validity of the link to the new address
	emailRevertTTL = 7 * 24 * time.Hour
)

// EmailChange is a pending e-mail change.
type EmailChange struct {
	Email   string // the new address
	Created time.Time
	Expires time.Time
}

// Now is the service's clock (for pages that show the current time).
func (s *Service) Now() time.Time { return s.clock() }

func noPendingEmailChange() error {
	return portal.Errorf(portal.ENOTFOUND, "no email change is pending")
}

// RequestEmailChange starts changing the actor's e-mail address to
// newEmail: a link is mailed to the new address, and a newer request
// replaces an older one. Whoever controls the address can reset the
// password, so the request needs a session (never an API token) and the
// current password with, when two-factor authentication is on, a current
// code (proof). The answer never reveals whether the new address belongs
// to another account: if it does, that account's owner is told instead,
// and nothing can be confirmed.
func (s *Service) RequestEmailChange(ctx context.Context, a *Actor, newEmail string, proof Reauth) (_ *EmailChange, err error) {
	defer wrap(&err, "RequestEmailChange")
	if err := requireSession(a, OpChangeEmail); err != nil {
		return nil, err
	}
	email, err := cleanEmail(newEmail)
	if err != nil {
		return nil, err
	}
	if email == a.User.Email {
		return nil, portal.Errorf(portal.EINVALID, "that is already your email address")
	}
	second, err := s.checkReauth(ctx, a, proof, "change your email address")
	if err != nil {
		return nil, err
	}
	var ch *EmailChange
	err = s.sendEmailChange(ctx, a, "Requested email change", second, func(tx *store.Tx, cur *portal.User) (string, error) {
		if email == cur.Email {
			return "", portal.Errorf(portal.EINVALID, "that is already your email address")
		}
		return email, nil
	}, func(c *EmailChange) { ch = c })
	if err != nil {
		return nil, err
	}
	secevent.Log(ctx, s.log, secevent.EmailChangeRequested, a.User.ID) // the addresses are not logged
	return ch, nil
}

// ResendEmailChange mails a new link for the pending change (the previous
// link stops working) with a new expiry.
func (s *Service) ResendEmailChange(ctx context.Context, a *Actor) (_ *EmailChange, err error) {
	defer wrap(&err, "ResendEmailChange")
	if err := requireSession(a, OpChangeEmail); err != nil {
		return nil, err
	}
	var ch *EmailChange
	err = s.sendEmailChange(ctx, a, "Resent email change link", nil, func(tx *store.Tx, cur *portal.User) (string, error) {
		p, err := tx.PendingEmailToken(ctx, cur.ID, purposeEmailChange, s.clock())
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return "", noPendingEmailChange()
		}
		if err != nil {
			return "", err
		}
		return p.Email, nil
	}, func(c *EmailChange) { ch = c })
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// sendEmailChange is the body of a request or a resend (audited as
// message): target returns the new address inside the transaction; the
// second factor's proof of a request (nil for a resend or without two-factor
// authentication) is used in it.
func (s *Service) sendEmailChange(ctx context.Context, a *Actor, message string, second *twoFactorProof, target func(tx *store.Tx, cur *portal.User) (string, error), done func(*EmailChange)) error {
	now := s.clock()
	if err := s.checkLimits(ctx, now, limitKey{limitEmailChange, a.User.ID}); err != nil {
		return err
	}
	token, err := authn.NewToken()
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		cur, err := tx.GetUser(ctx, a.User.ID)
		if err != nil {
			return err
		}
		email, err := target(tx, cur)
		if err != nil {
			return err
		}
		if second != nil {
			if err := s.commitProof(ctx, w, a, cur, second); err != nil {
				return err
			}
		}
		if _, _, err := limitEmailChange.record(ctx, tx, a.User.ID, now); err != nil {
			return err // over the limit: refused (the limit's lock refuses the next ones early)
		}
		t := &store.EmailToken{ID: newID(), TokenHash: authn.HashToken(token), UserID: cur.ID, Purpose: purposeEmailChange,
			Email: email, Created: now, Expires: now.Add(EmailChangeTTL), FactorsSince: factorsSince(a, now)}
		if err := tx.CreateEmailToken(ctx, t); err != nil { // replaces the pending one
			return err
		}
		if err := w.audit(ctx, cur, a.IP, "", "", message, map[string]any{"email": cur.Email}, map[string]any{"email": email}); err != nil {
			return err
		}
		done(&EmailChange{Email: email, Created: t.Created, Expires: t.Expires})

		// Mail to one address is capped, whoever asks for it (the
		// counter is shared with sign-ups).
		if n, _, err := limitSignupMail.record(ctx, tx, lower(email), now); err != nil || n > limitSignupMail.max {
			return err // over the limit: answer the same, send nothing more this hour
		}
		owner, err := tx.GetUserByEmail(ctx, email)
		switch {
		case err == nil && owner.ID != cur.ID:
			// Taken: tell its owner, never the requester.
			return w.mail(ctx, owner.Email, "email_change_taken", mail.LinkData{Name: owner.FirstName, Email: owner.Email,
				Link: s.link("/login"), BaseURL: s.baseURL})
		case err != nil && portal.ErrorCode(err) != portal.ENOTFOUND:
			return err
		}
		return w.mail(ctx, email, "email_change_verify", mail.LinkData{Name: cur.FirstName, Email: email,
			OldEmail: cur.Email, NewEmail: email, Link: s.link("/account/email/verify?token=" + token), BaseURL: s.baseURL, ExpiresIn: Lifetime(EmailChangeTTL)})
	})
}

// factorsSince is when the second factors that undoing a change requested
// now by a's session would remove begin: the earlier of now and the
// session's sign-in. An intruder who signed in, turned on two-factor
// authentication with a secret of their own and then changed the address
// set that factor up after signing in; a factor the owner had before stays
// (and the change needed its code: checkReauth).
func factorsSince(a *Actor, now time.Time) time.Time {
	if a.Session != nil && !a.Session.AuthTime.IsZero() && a.Session.AuthTime.Before(now) {
		return a.Session.AuthTime
	}
	return now
}

// PendingEmailChange returns the actor's pending e-mail change, or a
// not-found error when there is none.
func (s *Service) PendingEmailChange(ctx context.Context, a *Actor) (_ *EmailChange, err error) {
	defer wrap(&err, "PendingEmailChange")
	t, err := s.db.PendingEmailToken(ctx, a.User.ID, purposeEmailChange, s.clock())
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, noPendingEmailChange()
	}
	if err != nil {
		return nil, err
	}
	return &EmailChange{Email: t.Email, Created: t.Created, Expires: t.Expires}, nil
}

// CancelEmailChange withdraws the pending e-mail change: its link stops working.
func (s *Service) CancelEmailChange(ctx context.Context, a *Actor) (err error) {
	defer wrap(&err, "CancelEmailChange")
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		p, err := tx.PendingEmailToken(ctx, a.User.ID, purposeEmailChange, s.clock())
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return noPendingEmailChange()
		}
		if err != nil {
			return err
		}
		if _, err := tx.DeleteEmailTokens(ctx, a.User.ID, purposeEmailChange, time.Time{}, ""); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Cancelled email change", map[string]any{"email": p.Email}, nil)
	})
}

// emailToken finds a link token of the purpose.
func (s *Service) emailToken(ctx context.Context, token, purpose string) (*store.EmailToken, error) {
	if token == "" || len(token) > 128 {
		return nil, invalidLink()
	}
	t, err := s.db.GetEmailToken(ctx, authn.HashToken(token), purpose)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, invalidLink()
	}
	return t, err
}

// changeToken finds an e-mail change token and checks that the actor may
// use it now.
func (s *Service) changeToken(ctx context.Context, a *Actor, token string) (*store.EmailToken, error) {
	if err := requireSession(a, OpChangeEmail); err != nil {
		return nil, err
	}
	t, err := s.emailToken(ctx, token, purposeEmailChange)
	if err != nil {
		return nil, err
	}
	if t.UserID != a.User.ID {
		return nil, portal.Errorf(portal.EFORBIDDEN, "this link confirms an email change of another account: log out, log in as the account that asked for the change, and follow the link again; nothing was changed")
	}
	if err := s.checkLink(t.Used, t.Expires); err != nil {
		return nil, err
	}
	return t, nil
}

// CheckEmailChange returns the new address a change link would set for
// the actor, without using the link.
func (s *Service) CheckEmailChange(ctx context.Context, a *Actor, token string) (_ string, err error) {
	defer wrap(&err, "CheckEmailChange")
	t, err := s.changeToken(ctx, a, token)
	if err != nil {
		return "", err
	}
	return t.Email, nil
}

func takenError(email string) error {
	return portal.Errorf(portal.EINVALID, "the address %s is now used by another account; nothing was changed", email)
}

// ConfirmEmailChange follows a change link: the actor's address becomes
// the new one, and the old address is mailed a notice with a "this wasn't
// me" link. Of two concurrent confirmations exactly one succeeds.
func (s *Service) ConfirmEmailChange(ctx context.Context, a *Actor, token string) (_ *portal.User, err error) {
	defer wrap(&err, "ConfirmEmailChange")
	t, err := s.changeToken(ctx, a, token)
	if err != nil {
		return nil, err
	}
	revert, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var updated *portal.User
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UseEmailToken(ctx, t.ID, now); err != nil {
			return linkSpent(err)
		}
		cur, err := tx.GetUser(ctx, a.User.ID)
		if err != nil {
			return err
		}
		u := *cur
		u.Email, u.ModifiedTime = t.Email, now
		if err := tx.UpdateUser(ctx, &u); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return takenError(t.Email)
			}
			return err
		}
		updated = &u
		rt := &store.EmailToken{ID: newID(), TokenHash: authn.HashToken(revert), UserID: u.ID, Purpose: purposeEmailRevert,
			Email: cur.Email, Created: now, Expires: now.Add(emailRevertTTL), FactorsSince: t.FactorsSince}
		if err := tx.AddEmailToken(ctx, rt); err != nil {
			return err
		}
		if err := w.audit(ctx, &u, a.IP, "", "", "Changed email address", map[string]any{"email": cur.Email}, map[string]any{"email": u.Email}); err != nil {
			return err
		}
		return w.mail(ctx, cur.Email, "email_changed", mail.LinkData{Name: u.FirstName, Email: cur.Email, OldEmail: cur.Email, NewEmail: u.Email,
			Link: s.link("/account/email/revert?token=" + revert), BaseURL: s.baseURL, ExpiresIn: Lifetime(emailRevertTTL)})
	})
	if err != nil {
		return nil, err
	}
	a.User = updated
	// The address has its account: its pending sign-ups are void (in a
	// transaction of their own, as VerifyRegistration does).
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CloseRegistrations(ctx, updated.Email, now) }); err != nil {
		s.log.Warn("closing sign-ups of a new address", "err", err)
	}
	return updated, nil
}

// revertToken finds a "this wasn't me" token that can be used now.
func (s *Service) revertToken(ctx context.Context, token string) (*store.EmailToken, error) {
	t, err := s.emailToken(ctx, token, purposeEmailRevert)
	if err != nil {
		return nil, err
	}
	if err := s.checkLink(t.Used, t.Expires); err != nil {
		return nil, err
	}
	return t, nil
}

// CheckEmailRevert returns the address a "this wasn't me" link would
// restore, without using the link.
func (s *Service) CheckEmailRevert(ctx context.Context, token string) (_ string, err error) {
	defer wrap(&err, "CheckEmailRevert")
	t, err := s.revertToken(ctx, token)
	if err != nil {
		return "", err
	}
	return t.Email, nil
}

// RevertEmailChange follows a "this wasn't me" link from the old mailbox
// (no login needed): the old address is restored, every session ends and
// the account needs a new password (set through recovery) before anyone
// can log in again. API tokens are deleted (whoever changed the address may
// hold one), and so is what of two-factor authentication was set up since
// whoever made the change signed in (an intruder's own secret or recovery
// codes: factorsSince); a second factor the owner had before stays, so that the recovery that
// follows still asks for it: the old mailbox alone never opens an account
// protected by two-factor authentication. The links of later changes stop
// working, so the oldest link has the last word; the pending change is
// cancelled.
func (s *Service) RevertEmailChange(ctx context.Context, token string, c Client) (_ *portal.User, err error) {
	defer wrap(&err, "RevertEmailChange")
	t, err := s.revertToken(ctx, token)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var updated *portal.User
	var removed2FA bool
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UseEmailToken(ctx, t.ID, now); err != nil {
			return linkSpent(err)
		}
		cur, err := tx.GetUser(ctx, t.UserID)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return portal.Errorf(portal.ENOTFOUND, "this account no longer exists")
		}
		if err != nil {
			return err
		}
		u := *cur
		u.Email, u.PasswordResetRequired, u.ModifiedTime = t.Email, true, now
		if err := tx.UpdateUser(ctx, &u); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return takenError(t.Email)
			}
			return err
		}
		updated = &u
		if _, err := tx.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return err
		}
		if _, err := tx.DeleteUserAPITokens(ctx, u.ID); err != nil { // whoever changed the address may hold one
			return err
		}
		// Whoever changed the address may have turned on two-factor
		// authentication with a secret of their own, which the recovery
		// that must follow would ask for: what was set up since they
		// signed in goes (factorsSince).
		var removedCodes int64
		removed2FA, removedCodes, err = tx.DeleteTwoFactorSince(ctx, u.ID, t.FactorsSince)
		if err != nil {
			return err
		}
		if removed2FA {
			if err := limitTwoFactor.reset(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.DeleteEmailTokens(ctx, u.ID, purposeEmailRevert, t.Created, t.ID); err != nil {
			return err
		}
		if _, err := tx.DeleteEmailTokens(ctx, u.ID, purposeEmailChange, time.Time{}, ""); err != nil {
			return err
		}
		return w.audit(ctx, &u, c.IP, "", "", "Reverted email change (this wasn't me); signed out everywhere, password reset required",
			map[string]any{"email": cur.Email}, map[string]any{"email": u.Email, "password_reset_required": true, "two_factor_removed": removed2FA, "recovery_codes_removed": removedCodes})
	})
	if err != nil {
		return nil, err
	}
	if removed2FA {
		secevent.Log(ctx, s.log, secevent.TwoFactorDisabled, updated.ID, "how", "email_change_reverted")
	}
	return updated, nil
}
