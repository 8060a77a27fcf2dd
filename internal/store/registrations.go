package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Registration is a pending sign-up, waiting for its mailed link.
type Registration struct {
	ID           string
	TokenHash    string
	Email        string
	FirstName    string
	LastName     string
	PasswordHash string
	OrgName      string
	Created      time.Time
	Expires      time.Time
	Used         time.Time
}

const registrationCols = `id, token_hash, email, first_name, last_name, password_hash, org_name, created_at, expires_at, used_at`

func scanRegistration(row interface{ Scan(...any) error }) (*Registration, error) {
	var r Registration
	var created, expires int64
	var used sql.NullInt64
	if err := row.Scan(&r.ID, &r.TokenHash, &r.Email, &r.FirstName, &r.LastName, &r.PasswordHash, &r.OrgName, &created, &expires, &used); err != nil {
		return nil, err
	}
	r.Created, r.Expires, r.Used = fromMS(created), fromMS(expires), fromMS(used.Int64)
	return &r, nil
}

// CreateRegistration stores a pending sign-up.
func (tx *Tx) CreateRegistration(ctx context.Context, r *Registration) (err error) {
	defer wrap(&err, "CreateRegistration")
	_, err = tx.exec(ctx, `INSERT INTO registrations (`+registrationCols+`, email_lower) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.TokenHash, r.Email, r.FirstName, r.LastName, r.PasswordHash, r.OrgName, ms(r.Created), ms(r.Expires), nil, EmailKey(r.Email))
	return err
}

// GetRegistration finds a sign-up by the hash of its link token.
func (c conn) GetRegistration(ctx context.Context, tokenHash string) (_ *Registration, err error) {
	defer wrap(&err, "GetRegistration")
	r, err := scanRegistration(c.queryRow(ctx, `SELECT `+registrationCols+` FROM registrations WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("link")
	}
	return r, err
}

// LatestRegistration returns the newest unused sign-up for an address
// (expired or not: a new link can be sent for it), or a not-found error.
func (c conn) LatestRegistration(ctx context.Context, email string) (_ *Registration, err error) {
	defer wrap(&err, "LatestRegistration")
	r, err := scanRegistration(c.queryRow(ctx, `SELECT `+registrationCols+` FROM registrations
		WHERE email_lower = ? AND used_at IS NULL ORDER BY created_at DESC, id LIMIT 1`, EmailKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("registration")
	}
	return r, err
}

// RenewRegistration gives a pending sign-up a new link token (the old
// link stops working) and a new expiry.
func (tx *Tx) RenewRegistration(ctx context.Context, id, tokenHash string, expires time.Time) (err error) {
	defer wrap(&err, "RenewRegistration(%s)", id)
	return tx.execOne(ctx, ErrTokenSpent, `UPDATE registrations SET token_hash = ?, expires_at = ? WHERE id = ? AND used_at IS NULL`, tokenHash, ms(expires), id)
}

// UseRegistration marks a sign-up used, only if it is still unused and
// unexpired: of two concurrent uses exactly one succeeds.
func (tx *Tx) UseRegistration(ctx context.Context, r *Registration, now time.Time) (err error) {
	defer wrap(&err, "UseRegistration")
	return tx.execOne(ctx, ErrTokenSpent, `UPDATE registrations SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`, ms(now), r.ID, ms(now))
}

// CloseRegistrations marks every pending sign-up of an address used (once
// the address has an account). It runs in its own transaction, after the
// one that created the account, so that concurrent verifications never
// lock each other's rows in opposite orders.
func (tx *Tx) CloseRegistrations(ctx context.Context, email string, now time.Time) (err error) {
	defer wrap(&err, "CloseRegistrations")
	_, err = tx.exec(ctx, `UPDATE registrations SET used_at = ? WHERE email_lower = ? AND used_at IS NULL`, ms(now), EmailKey(email))
	return err
}
