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

const (
	purposeRegister = "register"
	registerTTL     = 24 * time.Hour

	// Failed logins: an account locks after acctLimit failures within the
	// window, for acctLock doubling per further failure (capped at maxLock);
	// a client address locks after ipLimit failures.
	throttleWindow = 15 * time.Minute
	acctLimit      = 5
	acctLock       = time.Minute
	ipLimit        = 50
	ipLock         = 15 * time.Minute
	maxLock        = time.Hour
	resendLimit    = 5 // verification mails per address per window
)

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Email     string
	FirstName string
	LastName  string
	Password  string
	OrgName   string // optional: creates an organization with the user as Super User
}

// Register creates an unverified account and mails a verification link. If
// the address already has an account, the owner is mailed instead and the
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
	password, err := checkNewPassword(in.Password)
	if err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password) // outside the transaction
	if err != nil {
		return err
	}
	now := s.clock()
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		existing, err := tx.GetUserByEmail(ctx, email)
		if err == nil {
			if !existing.EmailVerified {
				return s.sendVerification(ctx, w, existing)
			}
			return w.mail(ctx, existing.Email, "account_exists", mail.LinkData{Name: existing.FirstName, Email: existing.Email, Link: s.link("/login"), BaseURL: s.baseURL})
		}
		if portal.ErrorCode(err) != portal.ENOTFOUND {
			return err
		}
		u := &portal.User{ID: newID(), Email: email, FirstName: first, LastName: last, PasswordHash: hash,
			PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrDuplicate) { // a concurrent sign-up won
				return nil
			}
			return err
		}
		orgID := ""
		if orgName != "" {
			o, err := s.createOrg(ctx, w, u, c.IP, orgName, portal.DefaultSessionExpiry)
			if err != nil {
				return err
			}
			orgID = o.ID
		}
		if err := w.audit(ctx, u, c.IP, orgID, "", "Signed up", nil, map[string]any{"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName}); err != nil {
			return err
		}
		return s.sendVerification(ctx, w, u)
	})
}

// sendVerification creates a fresh registration link (replacing older ones) and mails it.
func (s *Service) sendVerification(ctx context.Context, w *writer, u *portal.User) error {
	token, err := authn.NewToken()
	if err != nil {
		return err
	}
	now := s.clock()
	if err := w.tx.CreateEmailToken(ctx, &store.EmailToken{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID,
		Purpose: purposeRegister, Email: u.Email, Created: now, Expires: now.Add(registerTTL)}); err != nil {
		return err
	}
	return w.mail(ctx, u.Email, "verify_register", mail.LinkData{Name: u.FirstName, Email: u.Email,
		Link: s.link("/verify/register?token=" + token), BaseURL: s.baseURL, ExpiresIn: "24 hours"})
}

// ResendVerification mails a new verification link when the address has an
// unverified account. It answers the same in every case.
func (s *Service) ResendVerification(ctx context.Context, email string, c Client) error {
	email, err := cleanEmail(email)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		u, err := tx.GetUserByEmail(ctx, email)
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil
		}
		if err != nil || u.EmailVerified {
			return err
		}
		n, err := tx.RecordFailure(ctx, "resend:"+u.ID, s.clock(), time.Hour)
		if err != nil || n > resendLimit {
			return err // over the limit: silently send nothing more this hour
		}
		return s.sendVerification(ctx, w, u)
	})
}

// checkLink finds a mailed link's token and says clearly why it cannot be used.
func (s *Service) checkLink(ctx context.Context, token, purpose string) (*store.EmailToken, error) {
	if token == "" || len(token) > 128 {
		return nil, portal.Errorf(portal.ENOTFOUND, "this link is invalid")
	}
	t, err := s.db.GetEmailToken(ctx, authn.HashToken(token), purpose)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, portal.Errorf(portal.ENOTFOUND, "this link is invalid or was replaced by a newer one")
	}
	if err != nil {
		return nil, err
	}
	if !t.Used.IsZero() {
		return nil, portal.Errorf(portal.EINVALID, "this link has already been used")
	}
	if !s.clock().Before(t.Expires) {
		return nil, portal.Errorf(portal.EINVALID, "this link has expired; ask for a new one")
	}
	return t, nil
}

// VerifyRegistration follows a registration link: the account's address is verified.
func (s *Service) VerifyRegistration(ctx context.Context, token string, c Client) (*portal.User, error) {
	t, err := s.checkLink(ctx, token, purposeRegister)
	if err != nil {
		return nil, err
	}
	var u *portal.User
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UseEmailToken(ctx, t.ID, s.clock()); err != nil {
			if errors.Is(err, store.ErrTokenSpent) {
				return portal.Errorf(portal.EINVALID, "this link has already been used")
			}
			return err
		}
		if err := tx.SetEmailVerified(ctx, t.UserID, s.clock()); err != nil {
			return err
		}
		if u, err = tx.GetUser(ctx, t.UserID); err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Verified e-mail address", nil, map[string]any{"email": u.Email})
	})
	return u, err
}

// LoginResult is a new session; Token goes into the sessionid cookie.
type LoginResult struct {
	Token   string
	Session *portal.Session
	User    *portal.User
}

// ErrBadCredentials is the one answer to a wrong e-mail or password.
var ErrBadCredentials = portal.Errorf(portal.EINVALID, "invalid email or password")

// Login checks a password and opens a new session. Unknown addresses take
// the same path and time as wrong passwords.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (*LoginResult, error) {
	email, _ = cleanEmail(email)
	if email == "" || password == "" || len(password) > 4*portal.MaxPasswordLen {
		return nil, ErrBadCredentials
	}
	acctKey, ipKey := "login:acct:"+lower(email), "login:ip:"+c.IP
	now := s.clock()
	locked, err := s.db.LockedUntil(ctx, acctKey, ipKey)
	if err != nil {
		return nil, err
	}
	if locked.After(now) {
		s.onLogin("throttled")
		return nil, tooMany(locked.Sub(now))
	}
	password = authn.NormalizePassword(password)
	u, err := s.db.GetUserByEmail(ctx, email)
	if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	ok, rehash := false, false
	if u == nil {
		s.hasher.Dummy(ctx, password)
	} else if ok, rehash, err = s.hasher.Verify(ctx, u.PasswordHash, password); err != nil {
		return nil, err
	}
	if !ok {
		s.onLogin("failure")
		if err := s.recordLoginFailure(ctx, acctKey, ipKey); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if !u.EmailVerified {
		s.onLogin("failure")
		return nil, &portal.Error{Code: portal.EFORBIDDEN, Message: "your e-mail address is not verified yet: follow the link we mailed you, or ask for a new one",
			Fields: map[string]any{"email_not_verified": true}}
	}
	newHash := ""
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, password); err != nil {
			return nil, err
		}
	}
	expiry, err := s.db.UserSessionExpiry(ctx, u.ID, portal.DefaultSessionExpiry)
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
	sess := &portal.Session{ID: newID(), TokenHash: authn.HashToken(token), UserID: u.ID, CSRFToken: csrf,
		CreatedTime: now, LastSeenTime: now, ExpiresTime: now.Add(time.Duration(expiry) * time.Minute), AuthTime: now,
		TwoFactorPassed: false, IP: c.IP, UserAgent: truncate(c.UserAgent, 512)}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.ResetThrottle(ctx, acctKey); err != nil {
			return err
		}
		if newHash != "" {
			if err := tx.SetPasswordHash(ctx, u.ID, newHash, false, now); err != nil {
				return err
			}
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Logged in", nil, nil)
	})
	if err != nil {
		return nil, err
	}
	s.onLogin("success")
	return &LoginResult{Token: token, Session: sess, User: u}, nil
}

func (s *Service) recordLoginFailure(ctx context.Context, acctKey, ipKey string) error {
	now := s.clock()
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		n, err := tx.RecordFailure(ctx, acctKey, now, throttleWindow)
		if err != nil {
			return err
		}
		if n >= acctLimit {
			d := acctLock << min(n-acctLimit, 10)
			if err := tx.Lock(ctx, acctKey, now.Add(min(d, maxLock))); err != nil {
				return err
			}
		}
		if n, err = tx.RecordFailure(ctx, ipKey, now, throttleWindow); err != nil {
			return err
		}
		if n >= ipLimit {
			return tx.Lock(ctx, ipKey, now.Add(ipLock))
		}
		return nil
	})
}

func tooMany(d time.Duration) error {
	secs := int((d + time.Second - 1) / time.Second)
	return &portal.Error{Code: portal.ETOOMANY, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many failed attempts; try again in %d seconds", secs)}
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
		return nil, portal.Errorf(portal.EUNAUTHORIZED, "your session has expired; please log in again")
	}
	u, err := s.db.GetUser(ctx, sess.UserID)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	// Slide the expiry, writing at most once a minute per session.
	if now.Sub(sess.LastSeenTime) >= time.Minute {
		expiry, err := s.db.UserSessionExpiry(ctx, u.ID, portal.DefaultSessionExpiry)
		if err != nil {
			return nil, err
		}
		sess.LastSeenTime, sess.ExpiresTime = now, now.Add(time.Duration(expiry)*time.Minute)
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, sess.ID, sess.LastSeenTime, sess.ExpiresTime) }); err != nil {
			return nil, err
		}
	}
	return &Actor{User: u, Session: sess, IP: ip}, nil
}

// Logout ends the actor's session.
func (s *Service) Logout(ctx context.Context, a *Actor) error {
	if a.Session == nil {
		return nil
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
