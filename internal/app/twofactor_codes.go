package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/secevent"
	"portal/internal/store"
)

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
		msg = "the code must be the 6-digit code from your authenticator app, or one of your recovery codes (25 letters and digits, dashes optional)"
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
	step, ok, err := s.matchTOTP(ctx, u, tf, code)
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

// matchTOTP opens the user's sealed secret and matches code against it at
// the clock's time (authn.MatchTOTP): the step it matched, and ok.
func (s *Service) matchTOTP(ctx context.Context, u *portal.User, tf *store.TwoFactor, code string) (step int64, ok bool, err error) {
	secret, err := s.openTOTPSecret(ctx, u, tf) // secret_key.go
	if err != nil {
		return 0, false, err
	}
	if step, ok, err = authn.MatchTOTP(secret, code, s.clock()); err != nil {
		return 0, false, fmt.Errorf("two-factor code of user %s: %w", u.ID, err)
	}
	return step, ok, nil
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
	secevent.Log(ctx, s.log, secevent.SecondFactorFailed, u.ID, "reason", "wrong_code")
	if lock > 0 {
		s.lockedOut(ctx, limitTwoFactor, u.ID, lock)
		return limitTwoFactor.tooMany(u.ID, lock)
	}
	return &portal.Error{Code: portal.EINVALID, Message: msg, Fields: map[string]any{"two_factor_incorrect": true}}
}
