package app

import (
	"context"
	"fmt"
	"time"

	"portal"
	"portal/internal/store"
)

// Session lifetime (OWASP ASVS 5.0, 7.3). A session ends after the user's
// idle expiry without activity (the shortest session_expiry of their
// organizations, in minutes), and in any case at its maximum lifetime
// counted from its creation at login (the shortest session_max_lifetime,
// in days): activity never extends it past that moment. A recovery session
// promoted to a full one by a new password counts from the recovery link
// too (it is at most recoverSessionTTL older).

// sessionLimitsReader is what sessionLimits reads: the store, or a
// transaction of it.
type sessionLimitsReader interface {
	UserAccess(ctx context.Context, userID string) (store.Access, error)
}

// sessionLimits are the lifetimes of a user's sessions.
type sessionLimits struct {
	idle    time.Duration // without activity
	maxDays int           // from the creation, whatever the activity
}

// idleMinutes is the expiry without activity in minutes, as organizations
// set it (session_expiry).
func (l sessionLimits) idleMinutes() int { return int(l.idle / time.Minute) }

func (l sessionLimits) maxLife() time.Duration { return time.Duration(l.maxDays) * 24 * time.Hour }

// end is the moment a session created at created can live to at most.
func (l sessionLimits) end(created time.Time) time.Time { return created.Add(l.maxLife()) }

// expires is the expiry of a session created at created and seen at now:
// the idle expiry from now, but never past its maximum lifetime.
func (l sessionLimits) expires(created, now time.Time) time.Time {
	e := now.Add(l.idle)
	if end := l.end(created); end.Before(e) {
		return end
	}
	return e
}

// userSessionLimits returns the lifetimes of the user's sessions: the
// shortest among the user's organizations, or the defaults.
func userSessionLimits(ctx context.Context, db sessionLimitsReader, userID string) (sessionLimits, error) {
	a, err := db.UserAccess(ctx, userID)
	if err != nil {
		return sessionLimits{}, err
	}
	return accessLimits(a), nil
}

// accessLimits are the lifetimes of the sessions of a user with access a:
// the shortest among their organizations, or the defaults.
func accessLimits(a store.Access) sessionLimits {
	idle, days := a.SessionLimits(portal.DefaultSessionExpiry, portal.DefaultSessionMaxLifetime)
	return sessionLimits{idle: time.Duration(idle) * time.Minute, maxDays: days}
}

// sessionLimitsOf returns the lifetimes of the actor's sessions: those
// its authentication read or found cached, while they hold
// (currentFacts), or read again.
func (s *Service) sessionLimitsOf(ctx context.Context, a *Actor) (sessionLimits, error) {
	if f := s.currentFacts(a); f != nil {
		return f.limits, nil
	}
	return userSessionLimits(ctx, s.db, a.User.ID)
}

// termsLimits are the lifetimes of store.SessionTerms (read with the rest of
// a new session's terms, login.go).
func termsLimits(t store.SessionTerms) sessionLimits {
	return sessionLimits{idle: time.Duration(t.Expiry) * time.Minute, maxDays: t.MaxLifetime}
}

// maxLifetimeError is the refusal of a session that reached its maximum
// lifetime.
func maxLifetimeError(days int) error {
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return &portal.Error{Code: portal.EUNAUTHORIZED, Fields: map[string]any{"session_max_lifetime_reached": true},
		Message: fmt.Sprintf("your session has reached its maximum lifetime of %d %s; please log in again", days, unit)}
}

// expiredError tells why a session whose expiry has passed ended: at its
// maximum lifetime, or after the idle expiry.
func (s *Service) expiredError(ctx context.Context, sess *portal.Session) error {
	l, err := userSessionLimits(ctx, s.db, sess.UserID)
	if err != nil {
		return err
	}
	if !sess.ExpiresTime.Before(l.end(sess.CreatedTime)) {
		return maxLifetimeError(l.maxDays)
	}
	return &portal.Error{Code: portal.EUNAUTHORIZED, Fields: map[string]any{"session_expired": true},
		Message: "your session has expired; please log in again"}
}
