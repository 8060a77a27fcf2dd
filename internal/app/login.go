package app

import (
	"context"
	"errors"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/secevent"
	"portal/internal/store"
)

// loginFailed logs a failed login (secevent.LoginFailed) of u, nil for an
// address without an account: a wrong password is then unknown_user (the
// client is never told which it was). The address tried is not logged.
func (s *Service) loginFailed(ctx context.Context, u *portal.User, reason string) {
	id := ""
	switch {
	case u != nil:
		id = u.ID
	case reason == "wrong_password":
		reason = "unknown_user"
	}
	secevent.Log(ctx, s.log, secevent.LoginFailed, id, "reason", reason)
}

// LoginResult is a new session; Token goes into the sessionid cookie.
type LoginResult struct {
	Token   string
	Session *portal.Session
	User    *portal.User
	// TwoFactorRequired: the user has active two-factor authentication and
	// the session must still give a code (twofactor_login.go).
	TwoFactorRequired bool
}

// ErrBadCredentials is the one answer to a wrong e-mail or password.
var ErrBadCredentials = portal.Errorf(portal.EINVALID, "invalid email or password")

// Login checks a password and opens a new session. Unknown addresses take
// the same path and time as wrong passwords.
//
// A login from a browser that still holds a session of the same user
// (c.SessionToken) ends that session in the transaction that opens the new
// one, so a browser has one session and a token from before the login is
// worthless after it. A session of another user is left alone (only the
// browser's cookie is replaced). That holds even if a second factor is
// still owed, and with LoginWithCode even if the code then fails: the
// browser then logs in again.
//
// The attempt is counted (per account and per client address:
// limitLoginAccount, limitLoginAddress) before the password is hashed, so
// concurrent guesses cannot all pass the limits; a successful login forgets
// the account's failures and gives the client address its attempt back.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (_ *LoginResult, err error) {
	defer wrap(&err, "Login")
	email, _ = cleanEmail(email)
	if email == "" || password == "" || len(password) > 4*portal.MaxPasswordLen {
		secevent.Log(ctx, s.log, secevent.LoginFailed, "", "reason", "malformed")
		return nil, ErrBadCredentials
	}
	acct, ip := lower(email), c.IP
	now := s.clock()
	// The cheap early answer, with no write.
	if err := s.checkLimits(ctx, now, limitKey{limitLoginAccount, acct}, limitKey{limitLoginAddress, ip}); err != nil {
		if portal.ErrorCode(err) == portal.ETOOMANY {
			s.onLogin("throttled")
		}
		return nil, err
	}
	// The account is read while the attempt is counted: neither waits for
	// the other, and the hash still starts only once the attempt counts.
	type userRead struct {
		u   *portal.User
		err error
	}
	read := make(chan userRead, 1)
	go func() {
		u, err := s.db.GetUserByEmail(ctx, email)
		read <- userRead{u, err}
	}()
	acctLock, err := s.reserveLogin(ctx, acct, ip, now)
	if err != nil {
		if portal.ErrorCode(err) == portal.ETOOMANY {
			s.onLogin("throttled")
		}
		return nil, err
	}
	// This attempt may have locked the account (limitLoginAccount's
	// backoff locks at its max-th failure, before the hash, so that
	// concurrent guesses are refused). The right password lifts that lock
	// (releaseLogin); otherwise it stands, and is logged once, after the
	// attempt's own event.
	var u *portal.User
	released := false
	if acctLock > 0 {
		defer func() {
			if !released {
				id := ""
				if u != nil {
					id = u.ID
				}
				s.lockedOut(ctx, limitLoginAccount, id, acctLock)
			}
		}()
	}
	password = authn.NormalizePassword(password)
	got := <-read
	if u, err = got.u, got.err; err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	ok, rehash := false, false
	if u != nil {
		if ok, rehash, err = s.hasher.Verify(ctx, u.PasswordHash, password); err != nil {
			return nil, err
		}
	} else {
		s.hasher.Dummy(ctx, password) // what checking an account costs
	}
	if !ok {
		// The password may belong to a sign-up still waiting for its link,
		// whether or not the address has an account (Register stores a
		// sign-up for both), so the answer says nothing about the account.
		// Every failure costs two hashes either way.
		r, err := s.db.LatestRegistration(ctx, email)
		switch {
		case err == nil:
			pending, _, err := s.hasher.Verify(ctx, r.PasswordHash, password)
			if err != nil {
				return nil, err
			}
			if pending {
				s.loginFailed(ctx, u, "email_not_verified")
				s.onLogin("failure")
				return nil, &portal.Error{Code: portal.EFORBIDDEN, Message: "your email address is not verified yet: follow the link we mailed you, or ask for a new one",
					Fields: map[string]any{"email_not_verified": true}}
			}
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			s.hasher.Dummy(ctx, password)
		default:
			return nil, err
		}
		s.loginFailed(ctx, u, "wrong_password")
		s.onLogin("failure") // already counted by reserveLogin
		userID := ""
		if u != nil {
			userID = u.ID
		}
		if err := s.recordLoginFailure(ctx, userID, c, LoginFailureWrongPassword); err != nil { // loginfailures.go
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if u.Disabled() { // by an operator (operator.go); told only with the right password
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return releaseLogin(ctx, tx, acct, ip) }); err != nil {
			return nil, err
		}
		released = true
		s.loginFailed(ctx, u, "account_disabled")
		s.onLogin("failure")
		return nil, errDisabled(portal.EFORBIDDEN)
	}
	if u.PasswordResetRequired { // after "this wasn't me" (email_change.go)
		// The password was right: this attempt is not a failure.
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return releaseLogin(ctx, tx, acct, ip) }); err != nil {
			return nil, err
		}
		released = true
		s.loginFailed(ctx, u, "password_reset_required")
		s.onLogin("failure")
		return nil, &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_reset_required": true},
			Message: "this account was locked when a change of its email address was undone: choose a new password with Forgot password? on the login page"}
	}
	newHash := u.PasswordHash
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return nil, err
		}
	}
	token, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	csrf, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	var sess *portal.Session
	var pending bool
	// One transaction after the hash: the session, its audit entry and
	// the release of the attempt's counts.
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		// The password was verified outside this transaction: the session
		// is opened (and a rehash written) only if the stored hash is still
		// the one verified, and SessionTermsIf holds the user's row, so a
		// concurrent password change, which ends the user's sessions, comes
		// wholly before or wholly after this one. It also reads the
		// session's lifetime (session_lifetime.go) and whether it owes a
		// second factor (twofactor.go, twofactor_login.go: with an active
		// one it can do nothing before the code, and lives only
		// pendingTwoFactorTTL until then).
		var err error
		if newHash != u.PasswordHash {
			err = tx.SetPasswordHashIf(ctx, u.ID, u.PasswordHash, newHash)
		}
		var terms store.SessionTerms
		if err == nil {
			terms, err = tx.SessionTermsIf(ctx, u.ID, newHash, portal.DefaultSessionExpiry, portal.DefaultSessionMaxLifetime)
		}
		if errors.Is(err, store.ErrPasswordChanged) || portal.ErrorCode(err) == portal.ENOTFOUND {
			return ErrBadCredentials // the password changed meanwhile: this one is no longer it
		}
		if err != nil {
			return err
		}
		pending = terms.TwoFactor
		expires := termsLimits(terms).expires(now, now)
		if pending {
			expires = now.Add(min(expires.Sub(now), pendingTwoFactorTTL))
		}
		sess = &portal.Session{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID, CSRFToken: csrf,
			CreatedTime: now, LastSeenTime: now, ExpiresTime: expires, AuthTime: now,
			TwoFactorPassed: false, IP: c.IP, UserAgent: portal.Truncate(c.UserAgent, 512)}
		var after map[string]any
		if c.SessionToken != "" && len(c.SessionToken) <= 128 {
			ended, err := tx.DeleteUserSessionByToken(ctx, u.ID, authn.HashToken(c.SessionToken))
			if err != nil {
				return err
			}
			if ended {
				after = map[string]any{"previous_session_ended": true}
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := w.audit(ctx, u, c.IP, "", "", "Logged in", nil, after); err != nil {
			return err
		}
		return releaseLogin(ctx, tx, acct, ip) // last: the address's row is held until the commit
	})
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			s.loginFailed(ctx, u, "password_changed_meanwhile")
			s.onLogin("failure")
		}
		return nil, err
	}
	released = true
	u.PasswordHash = newHash
	secevent.Log(ctx, s.log, secevent.LoginSucceeded, u.ID, "second_factor_pending", pending)
	s.onLogin("success")
	return &LoginResult{Token: token, Session: sess, User: u, TwoFactorRequired: pending}, nil
}

// reserveLogin counts a login attempt for the client address and the
// account before its password is hashed, in one short transaction, so that
// parallel attempts cannot all slip past the limits; it returns the 429
// refusal when the address or the account is locked, or the address has
// used up its attempts (it is then locked). The account's limit has a
// backoff: its max-th attempt within the window goes through but locks the
// account at once, so concurrent attempts are refused; a successful login
// lifts that lock and gives the address its attempt back (releaseLogin), so
// many users behind one NAT address do not lock it. Once a lock ends, one
// more attempt goes through and locks for twice as long.
//
// The transaction does not wait for the disk (store.DB.WriteUnsynced): a
// crash of the machine or of PostgreSQL could lose the last counts, which
// only gives an attacker who can cause such crashes a few attempts, while
// every login would otherwise wait for two syncs instead of one (the
// session's transaction, which syncs, syncs these counts with it).
//
// Both are counted in one statement (countAll), the account's row first.
// Every transaction that writes both counters writes the account's first
// and the address's last (here and in releaseLogin): two logins then never
// wait for each other's row in opposite orders (a deadlock on PostgreSQL),
// and the address's row, which every login from that address writes, is
// held only from its statement to the commit.
//
// acctLock is how long this attempt locked the account (the caller logs
// it if it stands); a lock of the address, which refuses the attempt that
// set it, is logged here (security.lockout, not security.rate_limited).
func (s *Service) reserveLogin(ctx context.Context, acct, ip string, now time.Time) (acctLock time.Duration, err error) {
	var refused *portal.Error
	var addrLock time.Duration
	err = s.db.WriteUnsynced(ctx, func(tx *store.Tx) (err error) {
		acctLock, addrLock = 0, 0
		counted, err := countAll(ctx, tx, now, limitKey{limitLoginAccount, acct}, limitKey{limitLoginAddress, ip})
		if err != nil {
			return err
		}
		account := counted[0]
		if refused, addrLock, err = counted[1].settle(ctx, tx); err != nil || refused != nil {
			if err != nil {
				return err
			}
			return account.undo(ctx, tx) // the address's refusal does not count on the account
		}
		if refused, acctLock, err = account.settle(ctx, tx); err != nil || refused == nil {
			return err
		}
		return limitLoginAddress.release(ctx, tx, ip) // nothing is hashed for it
	})
	if err != nil {
		return 0, err
	}
	if addrLock > 0 {
		s.lockedOut(ctx, limitLoginAddress, "", addrLock)
	}
	if refused != nil {
		return 0, refused
	}
	return acctLock, nil
}

// releaseLogin undoes the count of an attempt whose password was right: the
// account's failures are forgotten (and its lock lifted) and the client
// address gets its attempt back, so that many users logging in from one
// address (a NAT) do not lock it. The account first, as in reserveLogin.
func releaseLogin(ctx context.Context, tx *store.Tx, acct, ip string) error {
	if err := limitLoginAccount.reset(ctx, tx, acct); err != nil {
		return err
	}
	return limitLoginAddress.release(ctx, tx, ip)
}
