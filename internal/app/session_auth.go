package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// Authenticate resolves a session token to its actor and slides the
// session's expiry. Unknown or expired tokens are unauthorized. What it
// reads is cached while nothing that could take a right away has changed
// (authcache.go).
func (s *Service) Authenticate(ctx context.Context, token, ip string) (_ *Actor, err error) {
	defer wrap(&err, "Authenticate")
	unauth := portal.Errorf(portal.EUNAUTHORIZED, "authentication required")
	if token == "" || len(token) > 128 {
		return nil, unauth
	}
	hash := authn.HashToken(token)
	start, err := s.authStart(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if e := s.auth.get(sessionKey(hash), start.epoch); e != nil &&
		now.Before(e.sess.ExpiresTime) && now.Sub(e.sess.LastSeenTime) < time.Minute {
		return s.actorFrom(e, start, ip, now), nil
	}
	// The session, its user and their second factor in one query: a
	// deleted session or a disabled user is refused.
	sess, u, enrolment, err := s.db.GetSessionUserByTokenHash(ctx, hash)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	if !now.Before(sess.ExpiresTime) {
		return nil, s.expiredError(ctx, sess) // session_lifetime.go
	}
	if u.Disabled() { // operator.go: refused on the next request, on every instance
		return nil, errDisabled(portal.EUNAUTHORIZED)
	}
	if u.PasswordResetRequired && !sess.PasswordOnly {
		return nil, unauth // only a recovery link opens this account again
	}
	facts, err := s.loadFacts(ctx, u, enrolment)
	if err != nil {
		return nil, err
	}
	a := &Actor{User: u, Session: sess, IP: ip, facts: facts, factsAt: start.writes}
	if !sess.PasswordOnly {
		a.PasswordExpired = passwordExpiredAt(u, facts.passwordExpiry, now)
	}
	// Two-factor authentication (twofactor.go): whether this session still
	// owes its second factor, and whether an organization requires one.
	a.TwoFactor = twoFactorStateAt(a, enrolment, facts.reqs, now)
	// Slide the expiry, writing at most once a minute per session, never
	// past the session's maximum lifetime (session_lifetime.go). A session
	// opened by a recovery link, or still owing its second factor, keeps
	// its short life.
	if now.Sub(sess.LastSeenTime) >= time.Minute && !sess.PasswordOnly && !a.TwoFactor.Pending {
		limits, err := s.sessionLimitsOf(ctx, a)
		if err != nil {
			return nil, err
		}
		if err := s.slideSession(ctx, sess, limits, now); err != nil {
			return nil, err
		}
	}
	if cacheable(a) {
		cs, cu := *sess, *u
		s.auth.put(sessionKey(hash), start.epoch, &authEntry{sess: &cs, user: &cu, enrolment: enrolment, facts: facts})
	}
	return a, nil
}

// pendingTwoFactorTTL is how long a session may wait for its second factor.
const pendingTwoFactorTTL = 10 * time.Minute

// slideSession moves a session's expiry to now plus the user's session
// expiry, but never past its maximum lifetime (limits, the user's:
// session_lifetime.go). A session already past it (an organization lowered
// its maximum) ends: its expiry is set to that moment and the
// maximum-lifetime refusal returned.
func (s *Service) slideSession(ctx context.Context, sess *portal.Session, limits sessionLimits, now time.Time) error {
	if end := limits.end(sess.CreatedTime); !now.Before(end) {
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, sess.ID, sess.LastSeenTime, end) }); err != nil {
			return err
		}
		sess.ExpiresTime = end
		return maxLifetimeError(limits.maxDays)
	}
	sess.LastSeenTime, sess.ExpiresTime = now, limits.expires(sess.CreatedTime, now)
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, sess.ID, sess.LastSeenTime, sess.ExpiresTime) })
}

// Logout ends the actor's session.
func (s *Service) Logout(ctx context.Context, a *Actor) (err error) {
	defer wrap(&err, "Logout")
	if a.Session == nil {
		return errSessionOnly("there is no session to log out of; to revoke the token, delete it (DELETE /api/v1/self/apitokens/{apitoken_id})")
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.DeleteSession(ctx, a.Session.ID); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Logged out", nil, nil)
	})
}
