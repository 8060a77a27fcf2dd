package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portal"
)

const userCols = `id, email, first_name, last_name, phone, password_hash, email_verified, password_modified_at, created_at, modified_at, phone2, mac_format, hour24, timezone, password_reset_required, disabled_at`

func scanUser(row interface{ Scan(...any) error }) (*portal.User, error) {
	var u portal.User
	var pwAt, created, modified int64
	var disabled sql.NullInt64
	err := row.Scan(&u.ID, &u.Email, &u.FirstName, &u.LastName, &u.Phone, &u.PasswordHash, &u.EmailVerified, &pwAt, &created, &modified,
		&u.Phone2, &u.MACFormat, &u.Hour24, &u.Timezone, &u.PasswordResetRequired, &disabled)
	if err != nil {
		return nil, err
	}
	u.PasswordModifiedTime, u.CreatedTime, u.ModifiedTime = fromMS(pwAt), fromMS(created), fromMS(modified)
	if disabled.Valid {
		u.DisabledTime = fromMS(disabled.Int64)
	}
	return &u, nil
}

// CreateUser inserts u; an e-mail already taken (case-insensitively) gives
// ErrDuplicate, after which the transaction can go on (a concurrent sign-up
// is an expected outcome, not a failure of the transaction).
func (tx *Tx) CreateUser(ctx context.Context, u *portal.User) (err error) {
	defer wrap(&err, "CreateUser")
	if u.MACFormat == "" {
		u.MACFormat = "xx:xx:xx:xx:xx:xx"
	}
	if u.Timezone == "" {
		u.Timezone = "UTC"
	}
	return tx.savepoint(ctx, func() error {
		_, err := tx.exec(ctx, `INSERT INTO users (`+userCols+`, email_lower) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			u.ID, u.Email, u.FirstName, u.LastName, u.Phone, u.PasswordHash, u.EmailVerified,
			ms(u.PasswordModifiedTime), ms(u.CreatedTime), ms(u.ModifiedTime),
			u.Phone2, u.MACFormat, u.Hour24, u.Timezone, u.PasswordResetRequired, disabledAt(u.DisabledTime), EmailKey(u.Email))
		return err
	})
}

// GetUser returns the user with id, or a not-found error.
func (c conn) GetUser(ctx context.Context, id string) (_ *portal.User, err error) {
	defer wrap(&err, "GetUser(%s)", id)
	u, err := scanUser(c.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user")
	}
	return u, err
}

// GetUserByEmail finds a user by e-mail, case-insensitively.
func (c conn) GetUserByEmail(ctx context.Context, email string) (_ *portal.User, err error) {
	defer wrap(&err, "GetUserByEmail")
	u, err := scanUser(c.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email_lower = ?`, EmailKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user")
	}
	return u, err
}

// SetEmailVerified marks the user's address as verified.
func (tx *Tx) SetEmailVerified(ctx context.Context, userID string, now time.Time) (err error) {
	defer wrap(&err, "SetEmailVerified(%s)", userID)
	return tx.execOne(ctx, notFound("user"), `UPDATE users SET email_verified = ?, modified_at = ? WHERE id = ?`, true, ms(now), userID)
}

// SetPasswordHash replaces the stored hash. When changed is true the
// password itself changed (not just its parameters) and its time moves.
func (tx *Tx) SetPasswordHash(ctx context.Context, userID, hash string, changed bool, now time.Time) (err error) {
	defer wrap(&err, "SetPasswordHash(%s)", userID)
	if changed {
		return tx.execOne(ctx, notFound("user"), `UPDATE users SET password_hash = ?, password_modified_at = ?, modified_at = ? WHERE id = ?`, hash, ms(now), ms(now), userID)
	}
	return tx.execOne(ctx, notFound("user"), `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
}

// UpdateUser writes the user's e-mail, names, phones, preferences and
// reset flag (not the password: see SetPasswordHash). A taken e-mail gives
// ErrDuplicate.
func (tx *Tx) UpdateUser(ctx context.Context, u *portal.User) (err error) {
	defer wrap(&err, "UpdateUser")
	return tx.execOne(ctx, notFound("user"), `UPDATE users SET email = ?, email_lower = ?, first_name = ?, last_name = ?, phone = ?, phone2 = ?,
		mac_format = ?, hour24 = ?, timezone = ?, password_reset_required = ?, modified_at = ? WHERE id = ?`,
		u.Email, EmailKey(u.Email), u.FirstName, u.LastName, u.Phone, u.Phone2, u.MACFormat, u.Hour24, u.Timezone, u.PasswordResetRequired, ms(u.ModifiedTime), u.ID)
}

// SetPasswordHashIf replaces the stored hash with hash (a rehash of the same
// password: its time does not move) only if the stored hash is still
// oldHash; otherwise it returns ErrPasswordChanged. With hash equal to
// oldHash it changes nothing but still checks, and holds the user's row
// until the transaction ends, so a concurrent password change is ordered
// either wholly before or wholly after the caller's transaction.
func (tx *Tx) SetPasswordHashIf(ctx context.Context, userID, oldHash, hash string) (err error) {
	defer wrap(&err, "SetPasswordHashIf(%s)", userID)
	return tx.execOne(ctx, ErrPasswordChanged, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, userID, oldHash)
}

// SessionTerms are what a new session of a user depends on: the shortest
// session_expiry (minutes) and session_max_lifetime (days) among the
// user's organizations, or the defaults given when the user belongs to
// none, and whether the user's two-factor enrolment is verified (the
// session then owes a code).
type SessionTerms struct {
	Expiry, MaxLifetime int
	TwoFactor           bool
}

// SessionTermsIf returns the SessionTerms of a new session of the user, in
// one statement, if the user's stored password hash is still hash
// (otherwise ErrPasswordChanged), and holds the user's row so until the
// transaction ends: a concurrent password change is ordered either wholly
// before or wholly after the caller's transaction. Holding is a locking
// read (sessionTermsSQL), so that a login writes no row version of the
// user (nor moves auth_epoch, whose trigger counts every update of users)
// and two logins of one user do not wait for each other.
func (tx *Tx) SessionTermsIf(ctx context.Context, userID, hash string, defExpiry, defMaxLifetime int) (_ SessionTerms, err error) {
	defer wrap(&err, "SessionTermsIf(%s)", userID)
	var expiry, maxLife sql.NullInt64
	var twoFactor sql.NullBool
	err = tx.queryRow(ctx, sessionTermsSQL[tx.d], userID, hash).Scan(&expiry, &maxLife, &twoFactor)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionTerms{}, ErrPasswordChanged
	}
	t := SessionTerms{Expiry: defExpiry, MaxLifetime: defMaxLifetime, TwoFactor: twoFactor.Valid && twoFactor.Bool}
	if expiry.Valid {
		t.Expiry = int(expiry.Int64)
	}
	if maxLife.Valid {
		t.MaxLifetime = int(maxLife.Int64)
	}
	return t, err
}

// sessionTermsSQL holds the user's row on PostgreSQL with a share lock: an
// update of the row waits for the commit, and a change committed while
// the read waited is seen (the row is then no longer found). SQLite has
// one writer at a time, so a read in the write transaction holds it
// already.
var sessionTermsSQL = map[Dialect]string{
	SQLite:   sessionTermsSelect,
	Postgres: sessionTermsSelect + ` FOR SHARE OF u`,
}

const sessionTermsSelect = `SELECT
		(SELECT MIN(o.session_expiry) FROM orgs o JOIN privileges p ON p.org_id = o.id WHERE p.user_id = u.id),
		(SELECT MIN(o.session_max_lifetime) FROM orgs o JOIN privileges p ON p.org_id = o.id WHERE p.user_id = u.id),
		(SELECT verified FROM two_factor WHERE user_id = u.id)
	FROM users u WHERE u.id = ? AND u.password_hash = ?`

// EmailKey is the form in which addresses are compared (the email_lower
// columns): each character lower-cased, except that a character outside
// ASCII whose lower case is ASCII (U+212A KELVIN SIGN, U+0130) stays as it
// is, so that no address can be folded onto another account's ASCII one.
// For every other address it is strings.ToLower, which filled those
// columns before, so existing rows (with upper-case letters too) are still
// found. Comparing this key computed in Go, never SQL lower(), gives the
// same answer on SQLite and PostgreSQL.
func EmailKey(email string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			return r
		}
		if l := unicode.ToLower(r); l >= utf8.RuneSelf {
			return l
		}
		return r
	}, email)
}

// PasswordHistory returns the hashes of a user's previous passwords, newest
// first, at most limit of them.
func (c conn) PasswordHistory(ctx context.Context, userID string, limit int) (_ []string, err error) {
	defer wrap(&err, "PasswordHistory(%s)", userID)
	if limit <= 0 {
		return nil, nil
	}
	rows, err := c.query(ctx, `SELECT password_hash FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ErrPasswordChanged is returned by ChangePassword when the stored hash is
// no longer the one the change was checked against (a concurrent change).
var ErrPasswordChanged = errors.New("store: password changed meanwhile")

// ChangePassword replaces the user's password hash with newHash, only if it
// is still oldHash, keeps oldHash in the password history (trimmed to the
// newest keep entries), moves the password's time and clears the
// reset-required flag.
func (tx *Tx) ChangePassword(ctx context.Context, userID, oldHash, newHash string, now time.Time, historyID string, keep int) (err error) {
	defer wrap(&err, "ChangePassword(%s, %s)", userID, historyID)
	err = tx.execOne(ctx, ErrPasswordChanged, `UPDATE users SET password_hash = ?, password_modified_at = ?, modified_at = ?, password_reset_required = ?
		WHERE id = ? AND password_hash = ?`, newHash, ms(now), ms(now), false, userID, oldHash)
	if err != nil {
		return err
	}
	// created_at orders the history: it moves on by at least a millisecond
	// per entry even when the clock does not.
	if _, err := tx.exec(ctx, `INSERT INTO password_history (id, user_id, password_hash, created_at)
		SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CASE WHEN COALESCE(MAX(created_at), 0) >= ? THEN MAX(created_at) + 1 ELSE ? END
		FROM password_history WHERE user_id = ?`, historyID, userID, oldHash, ms(now), ms(now), userID); err != nil {
		return err
	}
	_, err = tx.exec(ctx, `DELETE FROM password_history WHERE user_id = ? AND id NOT IN
		(SELECT id FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?)`, userID, userID, keep)
	return err
}
