package app

import (
	"context"
	"errors"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/store"
)

// RegisterTTL is the validity of a sign-up's verification link.
const RegisterTTL = 24 * time.Hour

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Email     string
	FirstName string
	LastName  string
	Password  string
	OrgName   string // optional: creates an organization with the user as Super User
}

// Register records a pending sign-up and mails its verification link. The
// account is created only when that link is followed, with this sign-up's
// password: a stranger who signs up first with someone else's address
// cannot plant a password on the account the owner later verifies. If the
// address already has an account, the owner is mailed instead and the
// answer is the same, so the request reveals nothing.
func (s *Service) Register(ctx context.Context, in RegisterInput, c Client) (err error) {
	defer wrap(&err, "Register")
	email, err := cleanEmail(in.Email)
	if err != nil {
		return err
	}
	first, err := cleanName("first_name", in.FirstName, portal.MaxNameLen, true)
	if err != nil {
		return err
	}
	last, err := cleanName("last_name", in.LastName, portal.MaxNameLen, true)
	if err != nil {
		return err
	}
	orgName, err := cleanName("org_name", in.OrgName, portal.MaxOrgNameLen, false)
	if err != nil {
		return err
	}
	password, err := checkNewPassword(ctx, in.Password, first, last, email, orgName)
	if err != nil {
		return err
	}
	if err := s.reserveSignup(ctx, c); err != nil { // before the costly hash
		return err
	}
	hash, err := s.hasher.Hash(ctx, password) // outside the transaction
	if err != nil {
		return err
	}
	token, err := authn.NewToken()
	if err != nil {
		return err
	}
	now := s.clock()
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		// Mail to one address is capped, whoever asks for it.
		if n, _, err := limitSignupMail.record(ctx, tx, lower(email), now); err != nil || n > limitSignupMail.max {
			return err // over the limit: answer the same, send nothing more this hour
		}
		existing, err := tx.GetUserByEmail(ctx, email)
		if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
			return err
		}
		// The sign-up is stored even when the address has an account, so
		// that a login with its password answers "not verified yet" in both
		// cases (Login) and reveals nothing. Its link is then never mailed,
		// and VerifyRegistration would refuse it anyway.
		r := &store.Registration{ID: newID(), TokenHash: authn.HashToken(token), Email: email, FirstName: first, LastName: last,
			PasswordHash: hash, OrgName: orgName, Created: now, Expires: now.Add(RegisterTTL)}
		if err := tx.CreateRegistration(ctx, r); err != nil {
			return err
		}
		if existing != nil {
			return w.mail(ctx, existing.Email, "account_exists", mail.LinkData{Name: existing.FirstName, Email: existing.Email, Link: s.link("/login"), BaseURL: s.baseURL})
		}
		return s.mailVerification(ctx, w, r, token)
	})
}

// reserveSignup counts a sign-up or resend request of the client address
// (limitSignupAddress): over the limit the address is refused (429) until
// the window ends, before any password is hashed or mail written.
func (s *Service) reserveSignup(ctx context.Context, c Client) error {
	now := s.clock()
	if err := s.checkLimits(ctx, now, limitKey{limitSignupAddress, c.IP}); err != nil {
		return err
	}
	var refused *portal.Error
	err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
		refused, _, err = limitSignupAddress.reserve(ctx, tx, c.IP, now) // a sign-up throttle, not a lockout
		return err
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

func (s *Service) mailVerification(ctx context.Context, w *writer, r *store.Registration, token string) error {
	return w.mail(ctx, r.Email, "verify_register", mail.LinkData{Name: r.FirstName, Email: r.Email,
		Link: s.link("/verify/register?token=" + token), BaseURL: s.baseURL, ExpiresIn: Lifetime(RegisterTTL)})
}

// ResendVerification mails a new link for the newest pending sign-up of an
// address (its previous link stops working). It answers the same in every case.
func (s *Service) ResendVerification(ctx context.Context, email string, c Client) (err error) {
	defer wrap(&err, "ResendVerification")
	email, err = cleanEmail(email)
	if err != nil {
		return err
	}
	if err := s.reserveSignup(ctx, c); err != nil {
		return err
	}
	token, err := authn.NewToken()
	if err != nil {
		return err
	}
	now := s.clock()
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if _, err := tx.GetUserByEmail(ctx, email); portal.ErrorCode(err) != portal.ENOTFOUND {
			return err // the address has an account (or the lookup failed)
		}
		r, err := tx.LatestRegistration(ctx, email)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if n, _, err := limitSignupMail.record(ctx, tx, lower(email), now); err != nil || n > limitSignupMail.max {
			return err // over the limit: silently send nothing more this hour
		}
		if err := tx.RenewRegistration(ctx, r.ID, authn.HashToken(token), now.Add(RegisterTTL)); err != nil {
			return err
		}
		return s.mailVerification(ctx, w, r, token)
	})
}

// VerifyRegistration follows a registration link: the account is created
// from that sign-up, verified, with its organization if one was named.
func (s *Service) VerifyRegistration(ctx context.Context, token string, c Client) (_ *portal.User, err error) {
	defer wrap(&err, "VerifyRegistration")
	if token == "" || len(token) > 128 {
		return nil, invalidLink()
	}
	r, err := s.db.GetRegistration(ctx, authn.HashToken(token))
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, invalidLink()
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkLink(r.Used, r.Expires); err != nil {
		return nil, err
	}
	now := s.clock()
	u := &portal.User{ID: newID(), Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, PasswordHash: r.PasswordHash,
		EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UseRegistration(ctx, r, now); err != nil {
			return linkSpent(err)
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return portal.Errorf(portal.EINVALID, "this email address is already registered: log in instead")
			}
			return err
		}
		orgID := ""
		if r.OrgName != "" {
			o, err := s.createOrg(ctx, w, u, c.IP, r.OrgName, portal.DefaultSessionExpiry, portal.DefaultSessionMaxLifetime)
			if err != nil {
				return err
			}
			orgID = o.ID
		}
		return w.audit(ctx, u, c.IP, orgID, "", "Signed up and verified email address", nil,
			map[string]any{"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName})
	})
	if err != nil {
		return nil, err
	}
	// The address has its account: its other pending sign-ups are void.
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CloseRegistrations(ctx, u.Email, now) }); err != nil {
		s.log.Warn("closing other sign-ups", "err", err)
	}
	return u, nil
}
