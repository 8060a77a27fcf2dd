package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/store"
)

// Failed logins on one's own account (Mist's GET
// /api/v1/self/login_failures, and My Account's recent list): when, from
// which address and browser, and why. Never the password that was tried.

// Reasons of a failed login.
const (
	LoginFailureWrongPassword = "wrong password"
)

// loginFailuresShown is how many failures are listed one by one; the
// counts cover loginFailureRetention.
const (
	loginFailuresShown = 20
	loginFailureSpread = 32 // Mist: up to 32 addresses and browsers
)

// LoginFailures sums up the failed logins on an account.
type LoginFailures struct {
	Email      string
	Count      int       // within loginFailureRetention
	Last       time.Time // zero: none
	IPs        []string  // distinct, most recent first, at most 32
	UserAgents []string  // distinct, most recent first, at most 32
	Recent     []*store.LoginFailure
}

// recordLoginFailure records a failed login on the account userID in its
// own transaction. For an unknown address (userID "") it runs the same
// transaction without a row, so that the answer takes as long either way.
func (s *Service) recordLoginFailure(ctx context.Context, userID string, c Client, reason string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if userID == "" {
			return nil
		}
		return tx.InsertLoginFailure(ctx, &store.LoginFailure{ID: newID(), UserID: userID, Time: s.clock(), IP: c.IP,
			UserAgent: portal.Truncate(c.UserAgent, 512), Reason: reason})
	})
}

// SelfLoginFailures returns the failed logins on the actor's own account
// in the last loginFailureRetention.
func (s *Service) SelfLoginFailures(ctx context.Context, a *Actor) (_ *LoginFailures, err error) {
	defer wrap(&err, "SelfLoginFailures")
	since := s.clock().Add(-loginFailureRetention)
	list, total, err := s.db.ListLoginFailures(ctx, a.User.ID, since, 1000)
	if err != nil {
		return nil, err
	}
	out := &LoginFailures{Email: a.User.Email, Count: total, IPs: []string{}, UserAgents: []string{}, Recent: list[:min(len(list), loginFailuresShown)]}
	seenIP, seenUA := map[string]bool{}, map[string]bool{}
	for i, f := range list {
		if i == 0 {
			out.Last = f.Time
		}
		if f.IP != "" && !seenIP[f.IP] && len(out.IPs) < loginFailureSpread {
			seenIP[f.IP] = true
			out.IPs = append(out.IPs, f.IP)
		}
		if f.UserAgent != "" && !seenUA[f.UserAgent] && len(out.UserAgents) < loginFailureSpread {
			seenUA[f.UserAgent] = true
			out.UserAgents = append(out.UserAgents, f.UserAgent)
		}
	}
	return out, nil
}
