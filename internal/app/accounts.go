package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/store"
)

const registerTTL = 24 * time.Hour

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
func (s *Service) Register(ctx context.Context, in RegisterInput, c Client) error {
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
	password, err := checkNewPassword(ctx, in.Password, first, last, email)
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
			PasswordHash: hash, OrgName: orgName, Created: now, Expires: now.Add(registerTTL)}
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
		refused, err = limitSignupAddress.reserve(ctx, tx, c.IP, now)
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
		Link: s.link("/verify/register?token=" + token), BaseURL: s.baseURL, ExpiresIn: "24 hours"})
}

// ResendVerification mails a new link for the newest pending sign-up of an
// address (its previous link stops working). It answers the same in every case.
func (s *Service) ResendVerification(ctx context.Context, email string, c Client) error {
	email, err := cleanEmail(email)
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
		if err := tx.RenewRegistration(ctx, r.ID, authn.HashToken(token), now.Add(registerTTL)); err != nil {
			return err
		}
		return s.mailVerification(ctx, w, r, token)
	})
}

// checkLink says clearly why a link cannot be used, or returns nil.
func (s *Service) checkLink(used, expires time.Time) error {
	if !used.IsZero() {
		return portal.Errorf(portal.EINVALID, "this link has already been used")
	}
	if !s.clock().Before(expires) {
		return portal.Errorf(portal.EINVALID, "this link has expired; ask for a new one")
	}
	return nil
}

// linkSpent turns the store's "used or expired meanwhile" into the answer
// the user sees; other errors pass through.
func linkSpent(err error) error {
	if errors.Is(err, store.ErrTokenSpent) {
		return portal.Errorf(portal.EINVALID, "this link has already been used")
	}
	return err
}

func invalidLink() error {
	return portal.Errorf(portal.ENOTFOUND, "this link is invalid or was replaced by a newer one")
}

// VerifyRegistration follows a registration link: the account is created
// from that sign-up, verified, with its organization if one was named.
func (s *Service) VerifyRegistration(ctx context.Context, token string, c Client) (*portal.User, error) {
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
				return portal.Errorf(portal.EINVALID, "this e-mail address is already registered: log in instead")
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
		return w.audit(ctx, u, c.IP, orgID, "", "Signed up and verified e-mail address", nil,
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

// LoginResult is a new session; Token goes into the sessionid cookie.
type LoginResult struct {
	Token   string
	Session *portal.Session
	User    *portal.User
	// TwoFactorRequired: the user has active two-factor authentication and
	// the session must still give a code (twofactor.go).
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
// The attempt is counted (per account and per client address) before the
// password is hashed, so concurrent guesses cannot all pass the throttle;
// a successful login forgets the account's failures and gives the client
// address its attempt back.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (*LoginResult, error) {
	email, _ = cleanEmail(email)
	if email == "" || password == "" || len(password) > 4*portal.MaxPasswordLen {
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
	if err := s.reserveLogin(ctx, acct, ip, now); err != nil {
		if portal.ErrorCode(err) == portal.ETOOMANY {
			s.onLogin("throttled")
		}
		return nil, err
	}
	password = authn.NormalizePassword(password)
	u, err := s.db.GetUserByEmail(ctx, email)
	if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
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
				s.onLogin("failure")
				return nil, &portal.Error{Code: portal.EFORBIDDEN, Message: "your e-mail address is not verified yet: follow the link we mailed you, or ask for a new one",
					Fields: map[string]any{"email_not_verified": true}}
			}
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			s.hasher.Dummy(ctx, password)
		default:
			return nil, err
		}
		s.onLogin("failure") // already counted by reserveLogin
		return nil, ErrBadCredentials
	}
	if u.PasswordResetRequired { // after "this wasn't me" (email_change.go)
		// The password was right: this attempt is not a failure.
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return releaseLogin(ctx, tx, acct, ip) }); err != nil {
			return nil, err
		}
		s.onLogin("failure")
		return nil, &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"password_reset_required": true},
			Message: "this account was locked when a change of its e-mail address was undone: choose a new password with Forgot password? on the login page"}
	}
	newHash := u.PasswordHash
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return nil, err
		}
	}
	limits, err := userSessionLimits(ctx, s.db, u.ID)
	if err != nil {
		return nil, err
	}
	token, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	csrf, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	// Two-factor authentication (twofactor.go): with an active second
	// factor the new session owes a code before it can do anything, and
	// lives only pendingTwoFactorTTL until the code is given.
	pending, err := s.twoFactorActive(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	expires := limits.expires(now, now)
	if pending {
		expires = now.Add(min(expires.Sub(now), pendingTwoFactorTTL))
	}
	sess := &portal.Session{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID, CSRFToken: csrf,
		CreatedTime: now, LastSeenTime: now, ExpiresTime: expires, AuthTime: now,
		TwoFactorPassed: false, IP: c.IP, UserAgent: truncate(c.UserAgent, 512)}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		// The password was verified outside this transaction: the session
		// is opened (and a rehash written) only if the stored hash is still
		// the one verified. The conditional update also holds the user's
		// row, so a concurrent password change, which ends the user's
		// sessions, comes wholly before or wholly after this one.
		if err := tx.SetPasswordHashIf(ctx, u.ID, u.PasswordHash, newHash); err != nil {
			if errors.Is(err, store.ErrPasswordChanged) || portal.ErrorCode(err) == portal.ENOTFOUND {
				return ErrBadCredentials // the password changed meanwhile: this one is no longer it
			}
			return err
		}
		if err := releaseLogin(ctx, tx, acct, ip); err != nil {
			return err
		}
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
		return w.audit(ctx, u, c.IP, "", "", "Logged in", nil, after)
	})
	if err != nil {
		if errors.Is(err, ErrBadCredentials) {
			s.onLogin("failure")
		}
		return nil, err
	}
	u.PasswordHash = newHash
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
func (s *Service) reserveLogin(ctx context.Context, acct, ip string, now time.Time) error {
	var refused *portal.Error
	err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
		if refused, err = limitLoginAddress.reserve(ctx, tx, ip, now); err != nil || refused != nil {
			return err
		}
		if refused, err = limitLoginAccount.reserve(ctx, tx, acct, now); err != nil || refused == nil {
			return err
		}
		return limitLoginAddress.release(ctx, tx, ip) // nothing is hashed for it
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

// releaseLogin undoes the count of an attempt whose password was right: the
// account's failures are forgotten (and its lock lifted) and the client
// address gets its attempt back, so that many users logging in from one
// address (a NAT) do not lock it.
func releaseLogin(ctx context.Context, tx *store.Tx, acct, ip string) error {
	if err := limitLoginAccount.reset(ctx, tx, acct); err != nil {
		return err
	}
	return limitLoginAddress.release(ctx, tx, ip)
}

// Authenticate resolves a session token to its actor and slides the
// session's expiry. Unknown or expired tokens are unauthorized.
func (s *Service) Authenticate(ctx context.Context, token, ip string) (*Actor, error) {
	unauth := portal.Errorf(portal.EUNAUTHORIZED, "authentication required")
	if token == "" || len(token) > 128 {
		return nil, unauth
	}
	sess, err := s.db.GetSessionByTokenHash(ctx, authn.HashToken(token))
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if !now.Before(sess.ExpiresTime) {
		return nil, s.expiredError(ctx, sess) // session_lifetime.go
	}
	u, err := s.db.GetUser(ctx, sess.UserID)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	if u.PasswordResetRequired && !sess.PasswordOnly {
		return nil, unauth // only a recovery link opens this account again
	}
	a := &Actor{User: u, Session: sess, IP: ip}
	if !sess.PasswordOnly {
		if a.PasswordExpired, err = s.passwordExpired(ctx, u); err != nil {
			return nil, err
		}
	}
	// Two-factor authentication (twofactor.go): whether this session still
	// owes its second factor, and whether an organization requires one.
	if err := s.loadTwoFactor(ctx, a); err != nil {
		return nil, err
	}
	// Slide the expiry, writing at most once a minute per session, never
	// past the session's maximum lifetime (session_lifetime.go). A session
	// opened by a recovery link, or still owing its second factor, keeps
	// its short life.
	if now.Sub(sess.LastSeenTime) >= time.Minute && !sess.PasswordOnly && !a.TwoFactor.Pending {
		if err := s.slideSession(ctx, sess, now); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// pendingTwoFactorTTL is how long a session may wait for its second factor.
const pendingTwoFactorTTL = 10 * time.Minute

// slideSession moves a session's expiry to now plus the user's session
// expiry, but never past its maximum lifetime (session_lifetime.go). A
// session already past it (an organization lowered its maximum) ends: its
// expiry is set to that moment and the maximum-lifetime refusal returned.
func (s *Service) slideSession(ctx context.Context, sess *portal.Session, now time.Time) error {
	limits, err := userSessionLimits(ctx, s.db, sess.UserID)
	if err != nil {
		return err
	}
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
func (s *Service) Logout(ctx context.Context, a *Actor) error {
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

// Self is the signed-in user with their privileges.
type Self struct {
	User          *portal.User
	Privileges    []*portal.Privilege
	SessionExpiry int
}

// GetSelf returns the actor's account.
func (s *Service) GetSelf(ctx context.Context, a *Actor) (*Self, error) {
	privs, err := s.db.ListPrivileges(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	expiry, err := s.db.UserSessionExpiry(ctx, a.User.ID, portal.DefaultSessionExpiry)
	if err != nil {
		return nil, err
	}
	return &Self{User: a.User, Privileges: privs, SessionExpiry: expiry}, nil
}

// LogQuery selects audit entries: [Start, End) or Duration back from End.
type LogQuery struct {
	Start, End int64  // epoch seconds; 0 = unset
	Duration   string // e.g. "1d", "2h", "30m", "1w"; default "1d"
	Page       portal.Page
}

// LogPage is one page of audit entries.
type LogPage struct {
	Start, End time.Time
	Page       portal.Page
	Total      int
	Results    []*portal.AuditEntry
}

// SelfLogs lists the actor's own audit entries.
func (s *Service) SelfLogs(ctx context.Context, a *Actor, q LogQuery) (*LogPage, error) {
	start, end, err := s.logRange(q)
	if err != nil {
		return nil, err
	}
	page, err := CheckPage(q.Page)
	if err != nil {
		return nil, err
	}
	res, total, err := s.db.ListAudit(ctx, store.AuditQuery{AdminID: a.User.ID, Start: start, End: end, Page: page})
	if err != nil {
		return nil, err
	}
	return &LogPage{Start: start, End: end, Page: page, Total: total, Results: res}, nil
}

func (s *Service) logRange(q LogQuery) (time.Time, time.Time, error) {
	d := 24 * time.Hour
	if q.Duration != "" {
		var err error
		if d, err = parseDuration(q.Duration); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	// Beyond the year 9999 the time arithmetic below would overflow.
	const maxEpoch = 253402300799
	if q.Start < 0 || q.End < 0 || q.Start > maxEpoch || q.End > maxEpoch {
		return time.Time{}, time.Time{}, portal.Errorf(portal.EINVALID, "start and end must be epoch seconds")
	}
	var start, end time.Time
	switch {
	case q.Start != 0 && q.End != 0:
		start, end = time.Unix(q.Start, 0), time.Unix(q.End, 0)
	case q.Start != 0:
		start = time.Unix(q.Start, 0)
		end = start.Add(d)
	case q.End != 0:
		end = time.Unix(q.End, 0)
		start = end.Add(-d)
	default:
		end = s.clock().Add(time.Second) // include entries of the current second
		start = end.Add(-d)
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, portal.Errorf(portal.EINVALID, "start must be before end")
	}
	return start.UTC(), end.UTC(), nil
}

// parseDuration reads Mist durations: a number followed by m, h, d or w.
func parseDuration(s string) (time.Duration, error) {
	bad := portal.Errorf(portal.EINVALID, "duration %q must be a number followed by m, h, d or w (e.g. 1d)", s)
	if len(s) < 2 || len(s) > 8 {
		return 0, bad
	}
	var n int
	if _, err := fmt.Sscanf(s[:len(s)-1], "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != s[:len(s)-1] {
		return 0, bad
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 || n > 3660 {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// CheckPage applies the defaults and limits of Mist pagination.
func CheckPage(p portal.Page) (portal.Page, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Page == 0 {
		p.Page = 1
	}
	if p.Limit < 1 || p.Limit > 1000 {
		return p, portal.Errorf(portal.EINVALID, "limit must be between 1 and 1000")
	}
	if p.Page < 1 || p.Page > 1_000_000 {
		return p, portal.Errorf(portal.EINVALID, "page must be a positive number")
	}
	return p, nil
}
