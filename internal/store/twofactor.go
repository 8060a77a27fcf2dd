package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TwoFactor is a user's TOTP enrolment. Secret is sealed (authn.SecretBox):
// the store never sees it in the clear.
type TwoFactor struct {
	UserID     string
	Secret     string
	Verified   bool
	LastStep   int64 // newest TOTP step whose code was accepted
	Created    time.Time
	VerifiedAt time.Time
}

// ErrCodeUsed is returned when a TOTP step or a recovery code was already
// used (perhaps by a concurrent request), or the enrolment changed meanwhile.
var ErrCodeUsed = errors.New("store: two-factor code already used")

// ErrTwoFactorActive is returned by StartTwoFactor when the user's two-factor
// authentication is already verified.
var ErrTwoFactorActive = errors.New("store: two-factor authentication already active")

const twoFactorCols = `user_id, secret, verified, last_step, created_at, verified_at`

// GetTwoFactor returns the enrolment of a user, or a not-found error.
func (c conn) GetTwoFactor(ctx context.Context, userID string) (_ *TwoFactor, err error) {
	defer wrap(&err, "GetTwoFactor(%s)", userID)
	var tf TwoFactor
	var created, verified int64
	err = c.queryRow(ctx, `SELECT `+twoFactorCols+` FROM two_factor WHERE user_id = ?`, userID).
		Scan(&tf.UserID, &tf.Secret, &tf.Verified, &tf.LastStep, &created, &verified)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("two-factor enrolment")
	}
	if err != nil {
		return nil, err
	}
	tf.Created, tf.VerifiedAt = fromMS(created), fromMS(verified)
	return &tf, nil
}

// StartTwoFactor stores a fresh sealed secret for the user, unverified,
// replacing an unverified one. A verified enrolment stays as it is and
// ErrTwoFactorActive is returned.
func (tx *Tx) StartTwoFactor(ctx context.Context, userID, sealed string, now time.Time) (err error) {
	defer wrap(&err, "StartTwoFactor(%s)", userID)
	return tx.execOne(ctx, ErrTwoFactorActive, `INSERT INTO two_factor (`+twoFactorCols+`) VALUES (?, ?, ?, 0, ?, 0)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, verified = excluded.verified, last_step = 0,
			created_at = excluded.created_at, verified_at = 0
		WHERE two_factor.verified = ?`, userID, sealed, false, ms(now), false)
}

// ActivateTwoFactor verifies the enrolment sealed, recording step as used:
// only if the enrolment is still unverified, still holds that secret (not
// one restarted meanwhile) and step is newer than any used. Otherwise it
// returns ErrCodeUsed.
func (tx *Tx) ActivateTwoFactor(ctx context.Context, userID, sealed string, step int64, now time.Time) (err error) {
	defer wrap(&err, "ActivateTwoFactor(%s)", userID)
	return tx.execOne(ctx, ErrCodeUsed, `UPDATE two_factor SET verified = ?, verified_at = ?, last_step = ?
		WHERE user_id = ? AND secret = ? AND verified = ? AND last_step < ?`, true, ms(now), step, userID, sealed, false, step)
}

// UseTOTPStep records step as the newest used step of the user's verified
// enrolment, in one conditional UPDATE: of two requests with the same
// code, exactly one gets nil; the other, and any code of a step not newer
// than the last used one, get ErrCodeUsed.
func (tx *Tx) UseTOTPStep(ctx context.Context, userID string, step int64) (err error) {
	defer wrap(&err, "UseTOTPStep(%s)", userID)
	return tx.execOne(ctx, ErrCodeUsed, `UPDATE two_factor SET last_step = ? WHERE user_id = ? AND verified = ? AND last_step < ?`,
		step, userID, true, step)
}

// DeleteTwoFactor removes the user's enrolment and recovery codes; it
// reports whether there was an enrolment.
func (tx *Tx) DeleteTwoFactor(ctx context.Context, userID string) (_ bool, err error) {
	defer wrap(&err, "DeleteTwoFactor(%s)", userID)
	res, err := tx.exec(ctx, `DELETE FROM two_factor WHERE user_id = ?`, userID)
	if err != nil {
		return false, err
	}
	if _, err := tx.exec(ctx, `DELETE FROM two_factor_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteTwoFactorSince removes what of the user's second factor was set up
// at or after since: the enrolment if it was started then (with all its
// recovery codes), else only the recovery codes made then. It reports
// whether the enrolment went and how many recovery codes went with either.
func (tx *Tx) DeleteTwoFactorSince(ctx context.Context, userID string, since time.Time) (factor bool, codes int64, err error) {
	defer wrap(&err, "DeleteTwoFactorSince(%s)", userID)
	res, err := tx.exec(ctx, `DELETE FROM two_factor WHERE user_id = ? AND created_at >= ?`, userID, ms(since))
	if err != nil {
		return false, 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, 0, err
	}
	factor = n > 0
	q := `DELETE FROM two_factor_recovery_codes WHERE user_id = ? AND created_at >= ?`
	args := []any{userID, ms(since)}
	if factor {
		q, args = `DELETE FROM two_factor_recovery_codes WHERE user_id = ?`, args[:1]
	}
	if res, err = tx.exec(ctx, q, args...); err != nil {
		return false, 0, err
	}
	codes, err = res.RowsAffected()
	return factor, codes, err
}

// ReplaceRecoveryCodes voids the user's recovery codes and stores the
// hashes of a new set.
func (tx *Tx) ReplaceRecoveryCodes(ctx context.Context, userID string, ids, hashes []string, now time.Time) (err error) {
	defer wrap(&err, "ReplaceRecoveryCodes(%s)", userID)
	if len(ids) != len(hashes) {
		return errors.New("store: recovery codes: ids and hashes differ in number")
	}
	if _, err := tx.exec(ctx, `DELETE FROM two_factor_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for i, h := range hashes {
		if _, err := tx.exec(ctx, `INSERT INTO two_factor_recovery_codes (id, user_id, code_hash, created_at, used_at) VALUES (?, ?, ?, ?, 0)`,
			ids[i], userID, h, ms(now)); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks the user's recovery code with the hash used, in one
// conditional UPDATE: an unknown code is not found, one used already (or by
// a concurrent request) gives ErrCodeUsed.
func (tx *Tx) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (err error) {
	defer wrap(&err, "UseRecoveryCode(%s)", userID)
	res, err := tx.exec(ctx, `UPDATE two_factor_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`,
		ms(now), userID, hash)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	var used int64
	err = tx.queryRow(ctx, `SELECT used_at FROM two_factor_recovery_codes WHERE user_id = ? AND code_hash = ?`, userID, hash).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("recovery code")
	}
	if err != nil {
		return err
	}
	return ErrCodeUsed
}

// RecoveryCodeUsed reports whether the user's recovery code with the hash
// was used; an unknown code is not found.
func (c conn) RecoveryCodeUsed(ctx context.Context, userID, hash string) (_ bool, err error) {
	defer wrap(&err, "RecoveryCodeUsed(%s)", userID)
	var used int64
	err = c.queryRow(ctx, `SELECT used_at FROM two_factor_recovery_codes WHERE user_id = ? AND code_hash = ?`, userID, hash).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound("recovery code")
	}
	return used != 0, err
}

// RecoveryCodeStats counts the user's recovery codes: still usable, and in
// the set; created is when the set was made (zero without one).
type RecoveryCodeStats struct {
	Remaining int
	Total     int
	Created   time.Time
}

// RecoveryCodes returns the counts of the user's recovery codes.
func (c conn) RecoveryCodes(ctx context.Context, userID string) (_ RecoveryCodeStats, err error) {
	defer wrap(&err, "RecoveryCodes(%s)", userID)
	var st RecoveryCodeStats
	var created int64
	err = c.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN used_at = 0 THEN 1 ELSE 0 END), 0), COALESCE(MAX(created_at), 0)
		FROM two_factor_recovery_codes WHERE user_id = ?`, userID).Scan(&st.Total, &st.Remaining, &created)
	st.Created = fromMS(created)
	return st, err
}
