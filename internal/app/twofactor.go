package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/store"
)

// Two-factor authentication (TOTP, RFC 6238) with single-use recovery codes.
//
// A user enrols with PUT /api/v1/self {"enable_two_factor": true}: a fresh
// secret is sealed (AES-GCM, authn.SecretBox) and stored unverified. The
// first correct code activates it and creates 10 recovery codes, stored
// hashed and shown once. From then on a login opens a session that owes its
// second factor (TwoFactorState.Pending) until a code or a recovery code is
// given. A code is accepted only for a TOTP step newer than the last one
// accepted, by one conditional UPDATE (store.UseTOTPStep), so it is never
// accepted twice, even by concurrent requests. Wrong codes are counted per
// account (limitTwoFactor) and lock the second factor with a growing
// delay; the owner is mailed. Secrets and codes are never logged nor put in
// the audit log.

const (
	// RecoveryCodesLow is the number of remaining recovery codes at which
	// the user is warned to make a new set.
	RecoveryCodesLow = 3

	qrCodeSize = 256 // pixels of the QR code PNG
)

// TwoFactorState is the state of two-factor authentication for an actor
// and its session.
type TwoFactorState struct {
	Enabled  bool // enrolled: a secret exists (verified or not)
	Verified bool // active: a login asks for a code
	Passed   bool // this session gave its second factor
	Pending  bool // this session still owes its second factor

	// Organization enforcement, for a user without active two-factor
	// authentication in an organization whose policy requires it.
	Required      bool      // an organization requires it
	RequiredBy    string    // the organization whose grace period ends first
	Deadline      time.Time // the end of that grace period
	GraceDaysLeft int       // whole days left, rounded up; 0 once it is over
	EnrolDue      bool      // the grace period is over: enrol before anything else
}

// ephemeralSecretBox is the box of a Service built without one (tests):
// a random key, lost at restart.
func ephemeralSecretBox() *authn.SecretBox {
	key := make([]byte, authn.KeySize)
	_, _ = rand.Read(key)
	box, err := authn.NewSecretBox(key)
	if err != nil {
		panic(err) // a 32-byte key cannot be refused
	}
	return box
}

// getTwoFactor returns the user's enrolment, or nil without one.
func (s *Service) getTwoFactor(ctx context.Context, userID string) (*store.TwoFactor, error) {
	tf, err := s.db.GetTwoFactor(ctx, userID)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, nil
	}
	return tf, err
}

// twoFactorActive reports whether the user has verified two-factor
// authentication.
func (s *Service) twoFactorActive(ctx context.Context, userID string) (bool, error) {
	tf, err := s.getTwoFactor(ctx, userID)
	return tf != nil && tf.Verified, err
}

// LoadTwoFactor fills a.TwoFactor for an actor that Authenticate did not
// make (an API token).
func (s *Service) LoadTwoFactor(ctx context.Context, a *Actor) error { return s.loadTwoFactor(ctx, a) }

// loadTwoFactor fills a.TwoFactor (called by Authenticate).
func (s *Service) loadTwoFactor(ctx context.Context, a *Actor) error {
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return err
	}
	st := TwoFactorState{}
	if tf != nil {
		st.Enabled, st.Verified = true, tf.Verified
	}
	if a.Session != nil {
		st.Passed = a.Session.TwoFactorPassed
		st.Pending = st.Verified && !st.Passed
	}
	if !st.Verified {
		if err := s.twoFactorRequirement(ctx, a.User.ID, &st); err != nil {
			return err
		}
	}
	a.TwoFactor = st
	return nil
}

// twoFactorRequirement fills the organization enforcement of st: the
// earliest end of a grace period among the user's organizations whose
// enabled policy requires two-factor authentication. A member's grace
// period starts when the organization began to require it, or when the
// member joined, whichever is later.
func (s *Service) twoFactorRequirement(ctx context.Context, userID string, st *TwoFactorState) error {
	reqs, err := s.db.UserTwoFactorRequirements(ctx, userID)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		start := r.RequiredAt
		if r.JoinedAt.After(start) {
			start = r.JoinedAt
		}
		deadline := start.Add(time.Duration(r.GraceDays) * 24 * time.Hour)
		if !st.Required || deadline.Before(st.Deadline) {
			st.Required, st.RequiredBy, st.Deadline = true, r.OrgName, deadline
		}
	}
	if st.Required {
		left := st.Deadline.Sub(s.clock())
		st.EnrolDue = left <= 0
		if !st.EnrolDue {
			st.GraceDaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
	}
	return nil
}

// noteTwoFactorRequirement records when an organization's policy begins to
// require two-factor authentication (grace periods start then), or that it
// no longer does. Called by UpdatePasswordPolicy in its transaction.
func noteTwoFactorRequirement(ctx context.Context, tx *store.Tx, orgID string, cur, next portal.PasswordPolicy, now time.Time) error {
	was := cur.Enabled && cur.RequiresTwoFactorAuth
	is := next.Enabled && next.RequiresTwoFactorAuth
	switch {
	case is && !was:
		return tx.SetOrgTwoFactorRequiredAt(ctx, orgID, now)
	case was && !is:
		return tx.SetOrgTwoFactorRequiredAt(ctx, orgID, time.Time{})
	}
	return nil
}

// TwoFactorPendingError is the refusal of a route to a session that still
// owes its second factor (401, as Mist answers a client that has not
// finished logging in).
func TwoFactorPendingError() error {
	return &portal.Error{Code: portal.EUNAUTHORIZED, Fields: map[string]any{"two_factor_required": true, "two_factor_passed": false},
		Message: `two-factor authentication required: send the code from your authenticator app with POST /api/v1/login/two_factor {"two_factor": "123456"}`}
}

// TwoFactorEnrolError is the refusal of a route to a user whom an
// organization requires to enable two-factor authentication, once the grace
// period is over.
func (a *Actor) TwoFactorEnrolError() error {
	return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"two_factor_enrolment_required": true},
		Message: fmt.Sprintf(`%s requires two-factor authentication: enable it first (PUT /api/v1/self {"enable_two_factor": true}, then POST /api/v1/self/two_factor/verify, or My Account → Authentication)`, a.TwoFactor.RequiredBy)}
}

// ---- enrolment, through PUT /api/v1/self ----

// twoFactorChange is a change of the enrolment prepared by UpdateSelf
// before its transaction.
type twoFactorChange struct {
	start   string // the sealed secret of a new enrolment
	cancel  bool   // drop an enrolment that was never verified
	disable *twoFactorProof
}

// prepareTwoFactor checks the two-factor part of an account change: turning
// it on makes a fresh secret (unless it is active already: nothing
// changes); turning it off needs, once it is active, the current password
// and a current code or a recovery code. It returns nil when nothing is to
// change.
func (s *Service) prepareTwoFactor(ctx context.Context, a *Actor, in SelfInput) (*twoFactorChange, error) {
	if in.EnableTwoFactor == nil {
		return nil, nil
	}
	if err := requireSession(a, OpChangeTwoFactor); err != nil {
		return nil, err
	}
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if *in.EnableTwoFactor {
		if tf != nil && tf.Verified {
			return nil, nil
		}
		if err := s.enrolmentProof(ctx, a, deref(in.CurrentPassword)); err != nil {
			return nil, err
		}
		secret, err := authn.NewTOTPSecret()
		if err != nil {
			return nil, err
		}
		sealed, err := s.box.Seal([]byte(secret))
		if err != nil {
			return nil, err
		}
		return &twoFactorChange{start: sealed}, nil
	}
	switch {
	case tf == nil:
		return nil, nil
	case !tf.Verified:
		return &twoFactorChange{cancel: true}, nil
	}
	pw, code := deref(in.CurrentPassword), deref(in.TwoFactor)
	if pw == "" || strings.TrimSpace(code) == "" {
		field := "current_password"
		if pw != "" {
			field = "two_factor"
		}
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"current_password_required": true, "two_factor_required": true, "field": field},
			Message: "to turn off two-factor authentication, give your current password and a code from your authenticator app (or a recovery code)"}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, u, pw, "current_password"); err != nil {
		return nil, err
	}
	proof, err := s.checkSecondFactor(ctx, u, tf, code)
	if err != nil {
		return nil, err
	}
	return &twoFactorChange{disable: proof}, nil
}

// enrolmentProof checks that the actor may set up two-factor
// authentication (start it, or verify it): only in a session, not with an
// API token, and only in a privileged session (logged in within
// privilegedFor, the rule of password changes) or with the current
// password. Otherwise whoever held a session or a token could turn it on
// with a secret of their own and lock the owner out.
func (s *Service) enrolmentProof(ctx context.Context, a *Actor, password string) error {
	if err := requireSession(a, OpChangeTwoFactor); err != nil {
		return err
	}
	if password == "" {
		if s.SessionPrivileged(a) {
			return nil
		}
		return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"reauthentication_required": true, "current_password_required": true, "field": "current_password"},
			Message: fmt.Sprintf("to set up two-factor authentication, give your current password (or log in again: without it, setting it up is allowed only within %d minutes of logging in)", portal.PrivilegedSessionMinutes)}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return err
	}
	return s.checkCurrentPassword(ctx, u, password, "current_password")
}

// SessionPrivileged reports whether the actor's session logged in with the
// password within the last PrivilegedSessionMinutes: it may then change the
// password or set up two-factor authentication without giving the current
// password.
func (s *Service) SessionPrivileged(a *Actor) bool {
	return a.Session != nil && !a.Session.PasswordOnly && s.clock().Sub(a.Session.AuthTime) <= privilegedFor
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// commitTwoFactor writes a prepared change in UpdateSelf's transaction.
func (s *Service) commitTwoFactor(ctx context.Context, w *writer, a *Actor, u *portal.User, ch *twoFactorChange) error {
	if ch == nil {
		return nil
	}
	now := s.clock()
	switch {
	case ch.start != "":
		if err := w.tx.StartTwoFactor(ctx, u.ID, ch.start, now); err != nil {
			if errors.Is(err, store.ErrTwoFactorActive) {
				return portal.Errorf(portal.ECONFLICT, "two-factor authentication was verified meanwhile, perhaps in another window; reload")
			}
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Started setting up two-factor authentication", nil, map[string]any{"two_factor_verified": false})
	case ch.cancel:
		if _, err := w.tx.DeleteTwoFactor(ctx, u.ID); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Cancelled setting up two-factor authentication", nil, nil)
	}
	if err := s.commitProof(ctx, w, a, u, ch.disable); err != nil {
		return err
	}
	if _, err := w.tx.DeleteTwoFactor(ctx, u.ID); err != nil {
		return err
	}
	if err := limitTwoFactor.reset(ctx, w.tx, u.ID); err != nil {
		return err
	}
	if err := w.mail(ctx, u.Email, "twofactor_disabled", s.twoFactorMail(u, "/recover")); err != nil {
		return err
	}
	return w.audit(ctx, u, a.IP, "", "", "Disabled two-factor authentication", map[string]any{"enable_two_factor": true},
		map[string]any{"enable_two_factor": false, "confirmed_with": ch.disable.kind()})
}

// applied updates the actor after UpdateSelf committed ch.
func (ch *twoFactorChange) applied(a *Actor) {
	if ch == nil {
		return
	}
	st := &a.TwoFactor
	switch {
	case ch.start != "":
		st.Enabled, st.Verified = true, false
	default:
		st.Enabled, st.Verified, st.Pending = false, false, false
	}
}

func (s *Service) twoFactorMail(u *portal.User, path string) mail.LinkData {
	return mail.LinkData{Name: u.FirstName, Email: u.Email, Link: s.link(path), BaseURL: s.baseURL}
}

// TwoFactorSecret returns the secret of an enrolment waiting for
// verification and its otpauth:// URI (issuer "Portal", the e-mail address
// as account name). Once verified, the secret is never shown again.
func (s *Service) TwoFactorSecret(ctx context.Context, a *Actor) (secret, uri string, err error) {
	defer wrap(&err, "TwoFactorSecret")
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return "", "", err
	}
	if tf == nil {
		return "", "", notEnrolled()
	}
	if !tf.Verified {
		if err := requireSession(a, OpChangeTwoFactor); err != nil {
			return "", "", err
		}
	}
	if tf.Verified {
		return "", "", portal.Errorf(portal.EINVALID, "two-factor authentication is already verified: its secret is shown only while it is being set up (turn it off and on again for a new one)")
	}
	raw, err := s.box.Open(tf.Secret)
	if err != nil {
		return "", "", fmt.Errorf("two-factor secret of user %s: %w", a.User.ID, err)
	}
	secret = string(raw)
	uri, err = authn.TOTPURI(secret, a.User.Email)
	return secret, uri, err
}

// TwoFactorQRCode returns the QR code of the enrolment's otpauth:// URI as a
// PNG.
func (s *Service) TwoFactorQRCode(ctx context.Context, a *Actor) (_ []byte, err error) {
	defer wrap(&err, "TwoFactorQRCode")
	secret, _, err := s.TwoFactorSecret(ctx, a)
	if err != nil {
		return nil, err
	}
	return authn.TOTPQRCode(secret, a.User.Email, qrCodeSize)
}

// VerifyTwoFactor checks a code from the authenticator app. The first
// correct code activates two-factor authentication: the current session
// counts as having passed it, 10 recovery codes are made and returned (to
// show once), and the change is audit-logged and mailed. Once active, a
// correct code just passes the second factor for the session (Mist) and no
// codes are returned.
//
// Activating needs what starting does (enrolmentProof): a session, logged
// in within the last minutes or giving the current password (password).
func (s *Service) VerifyTwoFactor(ctx context.Context, a *Actor, code, password string) (_ []string, err error) {
	defer wrap(&err, "VerifyTwoFactor")
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if tf == nil {
		return nil, notEnrolled()
	}
	if tf.Verified {
		return nil, s.PassTwoFactor(ctx, a, code)
	}
	if err := s.enrolmentProof(ctx, a, password); err != nil {
		return nil, err
	}
	code = compactCode(code)
	if err := checkCodeFormat(code, false); err != nil {
		return nil, err
	}
	u := a.User
	if err := s.twoFactorLocked(ctx, u.ID); err != nil {
		return nil, err
	}
	raw, err := s.box.Open(tf.Secret)
	if err != nil {
		return nil, fmt.Errorf("two-factor secret of user %s: %w", u.ID, err)
	}
	step, ok, err := authn.MatchTOTP(string(raw), code, s.clock())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, s.wrongCode(ctx, a, u, "the code is not correct: type the code your authenticator app shows now for Portal, and check that your device's clock is right")
	}
	codes, ids, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.ActivateTwoFactor(ctx, u.ID, tf.Secret, step, now); err != nil {
			if errors.Is(err, store.ErrCodeUsed) {
				return portal.Errorf(portal.EINVALID, "this code was already used, or two-factor authentication was set up again meanwhile: reload, and type the next code your app shows")
			}
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, ids, hashes, now); err != nil {
			return err
		}
		if a.Session != nil {
			if err := tx.PassSessionTwoFactor(ctx, a.Session.ID); err != nil {
				return err
			}
		}
		if err := limitTwoFactor.reset(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := w.mail(ctx, u.Email, "twofactor_enabled", s.twoFactorMail(u, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Enabled two-factor authentication", map[string]any{"two_factor_verified": false},
			map[string]any{"two_factor_verified": true, "recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, err
	}
	a.TwoFactor.Enabled, a.TwoFactor.Verified, a.TwoFactor.Pending = true, true, false
	a.TwoFactor.Required, a.TwoFactor.EnrolDue = false, false
	if a.Session != nil {
		a.Session.TwoFactorPassed, a.TwoFactor.Passed = true, true
	}
	return codes, nil
}

// notEnrolled is the refusal of a step of enrolment before it was started.
func notEnrolled() error {
	return &portal.Error{Code: portal.ENOTFOUND, Fields: map[string]any{"field": "enable_two_factor"},
		Message: "two-factor authentication is not enabled: turn it on first (enable_two_factor)"}
}

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
		if a.Session != nil {
			if err := tx.PassSessionTwoFactor(ctx, a.Session.ID); err != nil {
				return err
			}
		}
		if newHash != "" {
			// Only from the token this request came with: of two concurrent
			// second steps of one login, one gets the new token.
			if err := tx.RotateSessionToken(ctx, a.Session.ID, a.Session.TokenHash, newHash); err != nil {
				if portal.ErrorCode(err) == portal.ENOTFOUND {
					return portal.Errorf(portal.EUNAUTHORIZED, "this login was completed or ended meanwhile, perhaps in another window; please log in again")
				}
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
		// The session now gets its full life (it had pendingTwoFactorTTL).
		if err := s.slideSession(ctx, a.Session, s.clock()); err != nil {
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

// ---- codes ----

// twoFactorProof is a second factor checked outside any transaction,
// committed (used up) by commitProof.
type twoFactorProof struct {
	step     int64  // TOTP step of a code, or
	recovery string // hash of a recovery code
}

func (p *twoFactorProof) kind() string {
	if p.recovery != "" {
		return "recovery code"
	}
	return "authenticator code"
}

// compactCode drops the spaces apps put in the middle of codes.
func compactCode(code string) string {
	return strings.Join(strings.Fields(code), "")
}

// checkCodeFormat refuses what cannot be a code, with the reason; recovery
// codes are allowed when recovery is true.
func checkCodeFormat(code string, recovery bool) error {
	var msg string
	switch {
	case code == "":
		msg = "the code is required: the 6-digit code from your authenticator app"
	case authn.IsTOTPCode(code):
		return nil
	case recovery && authn.NormalizeRecoveryCode(code) != "":
		return nil
	case recovery:
		msg = "the code must be the 6-digit code from your authenticator app, or one of your recovery codes (16 letters and digits)"
	default:
		msg = "the code must be the 6-digit code from your authenticator app"
	}
	return &portal.Error{Code: portal.EINVALID, Message: msg, Fields: map[string]any{"field": "two_factor"}}
}

// twoFactorLocked refuses with 429 while the user's second factor is locked
// after wrong codes.
func (s *Service) twoFactorLocked(ctx context.Context, userID string) error {
	return s.checkLimits(ctx, s.clock(), limitKey{limitTwoFactor, userID})
}

// checkSecondFactor checks a code or a recovery code of the user's active
// enrolment, without using it up (commitProof does, in the transaction of
// what the code allows).
func (s *Service) checkSecondFactor(ctx context.Context, u *portal.User, tf *store.TwoFactor, code string) (*twoFactorProof, error) {
	code = compactCode(code)
	if err := checkCodeFormat(code, true); err != nil {
		return nil, err
	}
	if err := s.twoFactorLocked(ctx, u.ID); err != nil {
		return nil, err
	}
	a := &Actor{User: u}
	if !authn.IsTOTPCode(code) {
		hash := authn.HashRecoveryCode(u.ID, authn.NormalizeRecoveryCode(code))
		used, err := s.db.RecoveryCodeUsed(ctx, u.ID, hash)
		switch {
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			return nil, s.wrongCode(ctx, a, u, "this is not one of your recovery codes")
		case err != nil:
			return nil, err
		case used:
			return nil, &portal.Error{Code: portal.EINVALID, Message: "this recovery code was already used: each one works once",
				Fields: map[string]any{"two_factor_incorrect": true}}
		}
		return &twoFactorProof{recovery: hash}, nil
	}
	raw, err := s.box.Open(tf.Secret)
	if err != nil {
		return nil, fmt.Errorf("two-factor secret of user %s: %w", u.ID, err)
	}
	step, ok, err := authn.MatchTOTP(string(raw), code, s.clock())
	if err != nil {
		return nil, err
	}
	switch {
	case !ok:
		return nil, s.wrongCode(ctx, a, u, "the code is not correct: type the code your authenticator app shows now, and check that your device's clock is right")
	case step <= tf.LastStep:
		// A correct code already used (a double submit, or a replay): no
		// guess at the secret, so not counted against the account.
		return nil, &portal.Error{Code: portal.EINVALID, Message: "this code was already used: wait for the next code your app shows",
			Fields: map[string]any{"two_factor_incorrect": true}}
	}
	return &twoFactorProof{step: step}, nil
}

// commitProof uses up a checked second factor, in one conditional UPDATE:
// of two requests with the same code only one gets here without error.
// Using a recovery code is audit-logged and mailed.
func (s *Service) commitProof(ctx context.Context, w *writer, a *Actor, u *portal.User, p *twoFactorProof) error {
	if p.recovery == "" {
		if err := w.tx.UseTOTPStep(ctx, u.ID, p.step); err != nil {
			if errors.Is(err, store.ErrCodeUsed) { // a concurrent request used it first
				return &portal.Error{Code: portal.EINVALID, Message: "this code was already used: wait for the next code your app shows",
					Fields: map[string]any{"two_factor_incorrect": true}}
			}
			return err
		}
		return nil
	}
	if err := w.tx.UseRecoveryCode(ctx, u.ID, p.recovery, s.clock()); err != nil {
		if errors.Is(err, store.ErrCodeUsed) || portal.ErrorCode(err) == portal.ENOTFOUND {
			return &portal.Error{Code: portal.EINVALID, Message: "this recovery code was already used: each one works once",
				Fields: map[string]any{"two_factor_incorrect": true}}
		}
		return err
	}
	st, err := w.tx.RecoveryCodes(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := w.mail(ctx, u.Email, "twofactor_recovery_used", s.twoFactorMail(u, "/account/two_factor/recovery_codes")); err != nil {
		return err
	}
	return w.audit(ctx, u, a.IP, "", "", "Used a recovery code for two-factor authentication", nil, map[string]any{"recovery_codes_left": st.Remaining})
}

// wrongCode counts a wrong code against the user's second factor: after
// twoFactorLimit of them it locks, for longer with each further one, and
// the lockout is audit-logged; the first lockout of a window is mailed to
// the owner. It returns the refusal: msg (400), or 429 once locked.
func (s *Service) wrongCode(ctx context.Context, a *Actor, u *portal.User, msg string) error {
	now := s.clock()
	var lock time.Duration
	err := s.write(ctx, func(tx *store.Tx, w *writer) error {
		n, l, err := limitTwoFactor.record(ctx, tx, u.ID, now)
		if lock = l; err != nil || lock == 0 {
			return err
		}
		if n == limitTwoFactor.max {
			if err := w.mail(ctx, u.Email, "twofactor_locked", s.twoFactorMail(u, "/recover")); err != nil {
				return err
			}
		}
		return w.audit(ctx, u, a.IP, "", "", "Two-factor authentication locked after wrong codes", nil,
			map[string]any{"failures": n, "locked_seconds": int(lock / time.Second)})
	})
	if err != nil {
		return err
	}
	if lock > 0 {
		return limitTwoFactor.tooMany(u.ID, lock)
	}
	return &portal.Error{Code: portal.EINVALID, Message: msg, Fields: map[string]any{"two_factor_incorrect": true}}
}

// ---- recovery codes ----

func newRecoveryCodes(userID string) (codes, ids, hashes []string, err error) {
	codes, err = authn.NewRecoveryCodes(authn.RecoveryCodeCount)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range codes {
		ids = append(ids, newID())
		hashes = append(hashes, authn.HashRecoveryCode(userID, authn.NormalizeRecoveryCode(c)))
	}
	return codes, ids, hashes, nil
}

// RecoveryCodeStatus tells how many of the user's recovery codes remain.
type RecoveryCodeStatus struct {
	Remaining int
	Total     int
	Created   time.Time
	Low       bool // few remain: make a new set
}

// RecoveryCodes returns the state of the actor's recovery codes (the codes
// themselves are shown only when they are made).
func (s *Service) RecoveryCodes(ctx context.Context, a *Actor) (_ *RecoveryCodeStatus, err error) {
	defer wrap(&err, "RecoveryCodes")
	if active, err := s.twoFactorActive(ctx, a.User.ID); err != nil || !active {
		if err == nil {
			err = portal.Errorf(portal.ENOTFOUND, "two-factor authentication is not active: recovery codes come with it")
		}
		return nil, err
	}
	st, err := s.db.RecoveryCodes(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	return &RecoveryCodeStatus{Remaining: st.Remaining, Total: st.Total, Created: st.Created, Low: st.Remaining <= RecoveryCodesLow}, nil
}

// RegenerateRecoveryCodes makes a new set of 10 recovery codes, which voids
// the old set; it needs the current password. The codes are returned to
// show once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a *Actor, password string) (_ []string, err error) {
	defer wrap(&err, "RegenerateRecoveryCodes")
	if err := requireSession(a, OpRecoveryCodes); err != nil {
		return nil, err
	}
	if _, err := s.RecoveryCodes(ctx, a); err != nil {
		return nil, err
	}
	if password == "" {
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"password_required": true, "field": "password"},
			Message: "give your current password to make new recovery codes"}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, u, password, "password"); err != nil {
		return nil, err
	}
	codes, ids, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if active, err := tx.GetTwoFactor(ctx, u.ID); err != nil || !active.Verified {
			if err == nil || portal.ErrorCode(err) == portal.ENOTFOUND {
				err = portal.Errorf(portal.ECONFLICT, "two-factor authentication was turned off meanwhile")
			}
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, ids, hashes, s.clock()); err != nil {
			return err
		}
		if err := w.mail(ctx, u.Email, "twofactor_recovery_codes", s.twoFactorMail(u, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Made new recovery codes for two-factor authentication", nil, map[string]any{"recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// ---- password recovery ----

// recoveryProof is the second factor a password recovery link needs when
// the account has two-factor authentication: nil when it has none.
func (s *Service) recoveryProof(ctx context.Context, u *portal.User, code string) (*twoFactorProof, error) {
	tf, err := s.getTwoFactor(ctx, u.ID)
	if err != nil || tf == nil || !tf.Verified {
		return nil, err
	}
	if strings.TrimSpace(code) == "" {
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"two_factor_required": true},
			Message: "this account uses two-factor authentication: also give a code from your authenticator app or a recovery code"}
	}
	return s.checkSecondFactor(ctx, u, tf, code)
}

// RecoveryLinkTwoFactor reports whether a usable recovery link belongs to
// an account with two-factor authentication (its page then asks for a code).
func (s *Service) RecoveryLinkTwoFactor(ctx context.Context, token string) (_ bool, err error) {
	defer wrap(&err, "RecoveryLinkTwoFactor")
	_, u, err := s.recoveryLink(ctx, token)
	if err != nil {
		return false, err
	}
	return s.twoFactorActive(ctx, u.ID)
}
