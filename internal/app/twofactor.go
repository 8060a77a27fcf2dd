package app

import (
	"context"
	"crypto/rand"
	"fmt"
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
	var e store.Enrolment
	if tf != nil {
		e = store.Enrolment{Enrolled: true, Verified: tf.Verified}
	}
	return s.loadTwoFactorFrom(ctx, a, e)
}

// loadTwoFactorFrom fills a.TwoFactor from the enrolment e, read with the
// session or token, and the organizations' requirements, read when the
// user has no verified second factor.
func (s *Service) loadTwoFactorFrom(ctx context.Context, a *Actor, e store.Enrolment) error {
	var reqs []store.TwoFactorRequirement
	if !e.Verified {
		var err error
		if reqs, err = s.db.UserTwoFactorRequirements(ctx, a.User.ID); err != nil {
			return err
		}
	}
	a.TwoFactor = twoFactorStateAt(a, e, reqs, s.clock())
	return nil
}

// twoFactorStateAt is the actor's two-factor state at now: the enrolment
// e, whether the session passed or still owes its second factor, and the
// organizations' enforcement (for a user without a verified second
// factor): the earliest end of a grace period among the organizations in
// reqs, whose enabled policy requires two-factor authentication. A
// member's grace period starts when the organization began to require it,
// or when the member joined, whichever is later.
func twoFactorStateAt(a *Actor, e store.Enrolment, reqs []store.TwoFactorRequirement, now time.Time) TwoFactorState {
	st := TwoFactorState{Enabled: e.Enrolled, Verified: e.Verified}
	if a.Session != nil {
		st.Passed = a.Session.TwoFactorPassed
		st.Pending = st.Verified && !st.Passed
	}
	if st.Verified {
		return st
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
		left := st.Deadline.Sub(now)
		st.EnrolDue = left <= 0
		if !st.EnrolDue {
			st.GraceDaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
		}
	}
	return st
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

func (s *Service) twoFactorMail(u *portal.User, path string) mail.LinkData {
	return mail.LinkData{Name: u.FirstName, Email: u.Email, Link: s.link(path), BaseURL: s.baseURL}
}
