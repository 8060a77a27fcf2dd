package app

import (
	"context"
	"strings"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// PassTwoFactor passes the second factor as PassLoginTwoFactor does, for
// a caller that hands out no cookie (VerifyTwoFactor, whose route a session
// owing its second factor cannot reach). Such a session would still get a
// new token, dropped here: the browser would have to log in again. The
// second step of a login uses PassLoginTwoFactor.
func (s *Service) PassTwoFactor(ctx context.Context, a *Actor, code string) (err error) {
	defer wrap(&err, "PassTwoFactor")
	_, err = s.PassLoginTwoFactor(ctx, a, code)
	return err
}

// PassLoginTwoFactor is the second step of a login: a code from the app,
// or a recovery code, for a session that owes its second factor.
//
// The session passes with a new token (ASVS 7.2.4: a new token on
// authentication), written in the transaction that uses up the code and
// returned for the sessionid cookie, so that a token seen before the second
// step (logged, shoulder-surfed, planted in the browser) is worthless after
// it. "" is returned when no token changed (no session, or one that had
// passed already). The CSRF token stays as it is: Mist clients read the
// csrftoken cookie once after login and send it as X-CSRFToken on every
// request, and a new one would break them; it only pairs with a session
// token (double submit) and grants nothing by itself, so keeping it gives
// an attacker who saw the old session token nothing.
func (s *Service) PassLoginTwoFactor(ctx context.Context, a *Actor, code string) (_ string, err error) {
	defer wrap(&err, "PassLoginTwoFactor")
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return "", err
	}
	if tf == nil || !tf.Verified {
		return "", portal.Errorf(portal.ENOTFOUND, "two-factor authentication is not enabled for this account")
	}
	proof, err := s.checkSecondFactor(ctx, a.User, tf, code)
	if err != nil {
		return "", err
	}
	// The session gets its full life (it had pendingTwoFactorTTL) in the
	// transaction that passes it, unless its maximum lifetime has ended,
	// which slideSession handles after it, as on any request.
	var limits sessionLimits
	now := s.clock()
	slid := false
	if a.Session != nil {
		if limits, err = s.sessionLimitsOf(ctx, a); err != nil {
			return "", err
		}
		slid = now.Before(limits.end(a.Session.CreatedTime))
	}
	token, newHash := "", ""
	if a.Session != nil && !a.Session.TwoFactorPassed {
		if token, err = authn.NewToken(); err != nil {
			return "", err
		}
		newHash = authn.HashToken(token)
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := s.commitProof(ctx, w, a, a.User, proof); err != nil {
			return err
		}
		switch {
		case newHash != "":
			// Passed and a new token in one statement (PassPendingSession),
			// only from the token this request came with: of two concurrent
			// second steps of one login, one gets the new token.
			if err := tx.PassPendingSession(ctx, a.Session.ID, a.Session.TokenHash, newHash); err != nil {
				if portal.ErrorCode(err) == portal.ENOTFOUND {
					return portal.Errorf(portal.EUNAUTHORIZED, "this login was completed or ended meanwhile, perhaps in another window; please log in again")
				}
				return err
			}
		case a.Session != nil:
			if err := tx.PassSessionTwoFactor(ctx, a.Session.ID); err != nil {
				return err
			}
		}
		if slid {
			if err := tx.TouchSession(ctx, a.Session.ID, now, limits.expires(a.Session.CreatedTime, now)); err != nil {
				return err
			}
		}
		if err := limitTwoFactor.reset(ctx, tx, a.User.ID); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Passed two-factor authentication", nil, map[string]any{"with": proof.kind()})
	})
	if err != nil {
		return "", err
	}
	if a.Session != nil {
		a.Session.TwoFactorPassed = true
		if newHash != "" {
			a.Session.TokenHash = newHash
		}
		if slid {
			a.Session.LastSeenTime, a.Session.ExpiresTime = now, limits.expires(a.Session.CreatedTime, now)
		} else if err := s.slideSession(ctx, a.Session, limits, now); err != nil {
			return "", err
		}
	}
	a.TwoFactor.Passed, a.TwoFactor.Pending = true, false
	return token, nil
}

// LoginWithCode is Login with the code in the same request, as Mist allows
// (POST /api/v1/login {"email", "password", "two_factor"}). Without a code,
// or for a user without two-factor authentication, it is Login. A wrong
// code leaves no session behind.
func (s *Service) LoginWithCode(ctx context.Context, email, password, code string, c Client) (_ *LoginResult, err error) {
	defer wrap(&err, "LoginWithCode")
	res, err := s.Login(ctx, email, password, c)
	if err != nil || !res.TwoFactorRequired || strings.TrimSpace(code) == "" {
		return res, err
	}
	a := &Actor{User: res.User, Session: res.Session, IP: c.IP}
	// The token Login made was never handed out; passing gives the session
	// another one all the same, as the second step of any login does.
	token, err := s.PassLoginTwoFactor(ctx, a, code)
	if err != nil {
		if derr := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, res.Session.ID) }); derr != nil {
			s.log.WarnContext(ctx, "removing the session of a failed second factor", "err", derr)
		}
		return nil, err
	}
	res.Token, res.TwoFactorRequired = token, false
	return res, nil
}
