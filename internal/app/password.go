package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"portal"
	"portal/internal/mail"
	"portal/internal/store"
)

const (
	// privilegedFor is how long after logging in a password may be changed
	// without giving the old one (a "privileged session").
	privilegedFor = portal.PrivilegedSessionMinutes * time.Minute
	// Wrong old passwords are limited by limitOldPassword (limits.go).
)

// Restriction says what keeps the actor's session from doing anything but
// setting a new password: a session opened by a recovery link, or an
// expired password. It returns nil for an unrestricted session. The
// transports decide which of their routes stay open (reading the account,
// changing the password, logging out).
func (a *Actor) Restriction() error {
	switch {
	case a.Session != nil && a.Session.PasswordOnly:
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_only": true},
			Message: `this session was opened by a password recovery link and can only set a new password: PUT /api/v1/self {"password": "…"}`}
	case a.PasswordExpired && a.Session == nil:
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_expired": true},
			Message: "your password has expired: log in with your password and choose a new one (My Account → Password); an API token cannot change it"}
	case a.PasswordExpired:
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_expired": true},
			Message: `your password has expired: choose a new one first (PUT /api/v1/self {"password": "…", "old_password": "…"}, or My Account → Password)`}
	}
	return nil
}

// passwordExpiredAt reports whether u's password is older at now than
// expiryDays, the shortest expiry of the policies that apply to u
// (EffectivePolicy.ExpiryInDays; 0: none), allows.
func passwordExpiredAt(u *portal.User, expiryDays int, now time.Time) bool {
	if expiryDays <= 0 || u.PasswordModifiedTime.IsZero() {
		return false
	}
	return !now.Before(u.PasswordModifiedTime.Add(time.Duration(expiryDays) * 24 * time.Hour))
}

// PasswordExpiresAt returns when u's password expires under ep (zero: never).
func PasswordExpiresAt(u *portal.User, ep *EffectivePolicy) time.Time {
	if ep.ExpiryInDays <= 0 || u.PasswordModifiedTime.IsZero() {
		return time.Time{}
	}
	return u.PasswordModifiedTime.Add(time.Duration(ep.ExpiryInDays) * 24 * time.Hour)
}

// passwordChange is a new password, checked and hashed outside any
// transaction, ready to be committed by commitPassword.
type passwordChange struct {
	oldHash  string // the stored hash it replaces, as checked
	newHash  string
	recovery bool // set through a recovery link: the session is password-only
	email    string
}

// onlyPassword reports whether in changes nothing but the password.
func (in SelfInput) onlyPassword() bool {
	return in == SelfInput{Password: in.Password, OldPassword: in.OldPassword}
}

// preparePassword checks a password change of PUT /api/v1/self before any
// transaction: who may make it (the old password, a privileged session or
// a recovery session), the new password against the user's policy and
// history, then hashes it. It returns nil when in sets no password.
func (s *Service) preparePassword(ctx context.Context, a *Actor, in SelfInput) (*passwordChange, error) {
	if err := a.Restriction(); err != nil && !in.onlyPassword() {
		return nil, err
	}
	if in.Password != nil {
		if err := requireSession(a, OpChangePassword); err != nil {
			return nil, err
		}
	}
	if in.Password == nil {
		if in.OldPassword != nil {
			return nil, portal.Errorf(portal.EINVALID, "old_password is given without a new password")
		}
		return nil, nil
	}
	if !in.onlyPassword() {
		// The other fields are checked first, so that a bad phone number
		// is refused before a password is hashed.
		if _, err := in.apply(*a.User); err != nil {
			return nil, err
		}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	recovery := a.Session != nil && a.Session.PasswordOnly
	switch {
	case recovery:
		// The recovery link proved the mailbox; the old password is what
		// was forgotten.
	case in.OldPassword != nil && *in.OldPassword != "":
		if err := s.checkOldPassword(ctx, u, *in.OldPassword); err != nil {
			return nil, err
		}
	case a.Session != nil && s.clock().Sub(a.Session.AuthTime) <= privilegedFor:
		// Logged in moments ago: a privileged session.
	default:
		return nil, &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"reauthentication_required": true},
			Message: fmt.Sprintf("re-authentication is required to change the password: send old_password (your current password) with it, or log in again (without it a change is allowed only within %d minutes of logging in)", portal.PrivilegedSessionMinutes)}
	}
	ep, err := s.PasswordPolicyFor(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var names []string // a name changed in the same request counts too
	for _, n := range []*string{in.FirstName, in.LastName} {
		if n != nil {
			names = append(names, *n)
		}
	}
	password, err := s.checkUserPassword(ctx, u, *in.Password, ep, names...)
	if err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	return &passwordChange{oldHash: u.PasswordHash, newHash: hash, recovery: recovery, email: u.Email}, nil
}

// checkUserPassword checks a new password of u against every rule of ep,
// its history included, naming every broken rule; u's names and e-mail
// address, and names (further names, such as a new one), make a password
// easy to guess. It returns the normalised password.
func (s *Service) checkUserPassword(ctx context.Context, u *portal.User, password string, ep *EffectivePolicy, names ...string) (string, error) {
	normal, broken, err := brokenRules(ctx, password, ep, &personalData{first: u.FirstName, last: u.LastName, email: u.Email, names: names})
	if err != nil {
		return "", err
	}
	if rule, ok := ep.Rule(RuleHistory); ok && len(password) <= 4*portal.MaxPasswordLen {
		reused, err := s.reusedPassword(ctx, u, password, rule.Value)
		if err != nil {
			return "", err
		}
		if reused {
			broken = append(broken, rule)
		}
	}
	if len(broken) > 0 {
		return "", policyError(ep, broken)
	}
	return normal, nil
}

// reusedPassword reports whether password is one of u's last n passwords:
// the current one and the n-1 before it (at most MaxPolicyHistoryCount
// hashes are verified).
func (s *Service) reusedPassword(ctx context.Context, u *portal.User, password string, n int) (bool, error) {
	n = min(n, maxHistoryChecks)
	hashes, err := s.db.PasswordHistory(ctx, u.ID, n-1)
	if err != nil {
		return false, err
	}
	for _, h := range append([]string{u.PasswordHash}, hashes...) {
		ok, _, err := s.hasher.Verify(ctx, h, password)
		if err != nil {
			s.log.WarnContext(ctx, "password history: unreadable hash", "user", u.ID, "err", err)
			continue
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// checkOldPassword verifies the current password given with a change.
// Wrong guesses are limited per account (limitOldPassword).
func (s *Service) checkOldPassword(ctx context.Context, u *portal.User, old string) error {
	now := s.clock()
	if err := s.checkLimits(ctx, now, limitKey{limitOldPassword, u.ID}); err != nil {
		return err
	}
	if len(old) <= 4*portal.MaxPasswordLen {
		ok, _, err := s.hasher.Verify(ctx, u.PasswordHash, old)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	var lock time.Duration
	err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
		_, lock, err = limitOldPassword.record(ctx, tx, u.ID, now)
		return err
	})
	if err != nil {
		return err
	}
	if lock > 0 { // this guess locked password changes: a lockout (security.lockout)
		s.lockedOut(ctx, limitOldPassword, u.ID, lock)
	}
	return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"old_password_incorrect": true, "field": "old_password"}, Message: "the current password is not correct"}
}

// checkCurrentPassword is checkOldPassword for a request that names the
// current password field (the API field, in Fields["field"]), with the
// "<field>_incorrect" flag of that field.
func (s *Service) checkCurrentPassword(ctx context.Context, u *portal.User, password, field string) error {
	err := s.checkOldPassword(ctx, u, password)
	var e *portal.Error
	if field != "old_password" && errors.As(err, &e) && e.Code == portal.EINVALID {
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{field + "_incorrect": true, "field": field}, Message: e.Message}
	}
	return err
}

// commitPassword writes a prepared password change in the transaction:
// the new hash (only if the old one is still in place), the history, the
// end of the user's other sessions, the notice mail and the audit entry.
// It updates u (the user as written) and, after a recovery, turns the
// actor's password-only session into a full one. A nil pc does nothing.
func (s *Service) commitPassword(ctx context.Context, w *writer, a *Actor, u *portal.User, pc *passwordChange) error {
	if pc == nil {
		return nil
	}
	tx, now := w.tx, s.clock()
	if err := tx.ChangePassword(ctx, u.ID, pc.oldHash, pc.newHash, now, newID(), maxHistoryChecks); err != nil {
		if errors.Is(err, store.ErrPasswordChanged) {
			return portal.Errorf(portal.ECONFLICT, "your password was changed meanwhile, perhaps in another window; reload and try again")
		}
		return err
	}
	u.PasswordHash, u.PasswordModifiedTime, u.ModifiedTime, u.PasswordResetRequired = pc.newHash, now, now, false
	except := ""
	if a.Session != nil {
		except = a.Session.ID
	}
	ended, err := tx.DeleteUserSessions(ctx, u.ID, except)
	if err != nil {
		return err
	}
	if err := limitOldPassword.reset(ctx, tx, u.ID); err != nil {
		return err
	}
	if err := limitLoginAccount.reset(ctx, tx, lower(pc.email)); err != nil {
		return err
	}
	message := "Changed password"
	var tokensDeleted int64
	after := map[string]any{"password_modified_time": now.Unix(), "other_sessions_signed_out": ended}
	if pc.recovery {
		message = "Set a new password by password recovery; API tokens deleted"
		// Whoever learnt the old password may have made API tokens: a
		// recovery ends them too (a change by the logged-in owner keeps
		// them).
		tokens, err := tx.DeleteUserAPITokens(ctx, u.ID)
		if err != nil {
			return err
		}
		after["api_tokens_deleted"] = tokens
		tokensDeleted = tokens
		limits, err := userSessionLimits(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		expires := limits.expires(a.Session.CreatedTime, now)
		if err := tx.PromoteSession(ctx, a.Session.ID, now, expires); err != nil {
			return err
		}
		a.Session.PasswordOnly, a.Session.AuthTime, a.Session.LastSeenTime, a.Session.ExpiresTime = false, now, now, expires
	}
	a.PasswordExpired = false
	if err := w.mail(ctx, u.Email, "password_changed", mail.LinkData{Name: u.FirstName, Email: u.Email, Link: s.link("/recover"), BaseURL: s.baseURL,
		TokensDeleted: tokensDeleted}); err != nil {
		return err
	}
	return w.audit(ctx, u, a.IP, "", "", message, nil, after)
}
