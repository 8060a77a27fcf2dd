package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// EmailToken is a single-use link token mailed to an address; only its hash is stored.
type EmailToken struct {
	ID        string
	TokenHash string
	UserID    string
	Purpose   string
	Email     string
	Created   time.Time
	Expires   time.Time
	Used      time.Time
	// FactorsSince (e-mail change and revert links): second factors set up
	// at or after it are removed when the change is undone; zero: all.
	FactorsSince time.Time
}

// CreateEmailToken stores a token, replacing the user's pending tokens of the same purpose.
func (tx *Tx) CreateEmailToken(ctx context.Context, t *EmailToken) (err error) {
	defer wrap(&err, "CreateEmailToken")
	if _, err := tx.exec(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL`, t.UserID, t.Purpose); err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO email_tokens (id, token_hash, user_id, purpose, email, created_at, expires_at, factors_since) VALUES (?,?,?,?,?,?,?,?)`,
		t.ID, t.TokenHash, t.UserID, t.Purpose, t.Email, ms(t.Created), ms(t.Expires), ms(t.FactorsSince))
	return err
}

// GetEmailToken finds a token by hash and purpose.
func (c conn) GetEmailToken(ctx context.Context, hash, purpose string) (_ *EmailToken, err error) {
	defer wrap(&err, "GetEmailToken(%s)", purpose)
	var t EmailToken
	var created, expires, since int64
	var used sql.NullInt64
	err = c.queryRow(ctx, `SELECT id, token_hash, user_id, purpose, email, created_at, expires_at, used_at, factors_since FROM email_tokens WHERE token_hash = ? AND purpose = ?`, hash, purpose).
		Scan(&t.ID, &t.TokenHash, &t.UserID, &t.Purpose, &t.Email, &created, &expires, &used, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("link")
	}
	if err != nil {
		return nil, err
	}
	t.Created, t.Expires, t.Used, t.FactorsSince = fromMS(created), fromMS(expires), fromMS(used.Int64), fromMS(since)
	return &t, nil
}

// ErrTokenSpent is returned when a token was used or expired meanwhile.
var ErrTokenSpent = errors.New("store: token already used or expired")

// UseEmailToken marks a token used, only if it is still unused and unexpired:
// of two concurrent uses exactly one succeeds.
func (tx *Tx) UseEmailToken(ctx context.Context, id string, now time.Time) (err error) {
	defer wrap(&err, "UseEmailToken(%s)", id)
	return tx.execOne(ctx, ErrTokenSpent, `UPDATE email_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`, ms(now), id, ms(now))
}

// AddEmailToken stores a token without replacing the user's other tokens
// of the same purpose (several "this wasn't me" links may be valid at once).
func (tx *Tx) AddEmailToken(ctx context.Context, t *EmailToken) (err error) {
	defer wrap(&err, "AddEmailToken")
	_, err = tx.exec(ctx, `INSERT INTO email_tokens (id, token_hash, user_id, purpose, email, created_at, expires_at, factors_since) VALUES (?,?,?,?,?,?,?,?)`,
		t.ID, t.TokenHash, t.UserID, t.Purpose, t.Email, ms(t.Created), ms(t.Expires), ms(t.FactorsSince))
	return err
}

// PendingEmailToken returns the user's newest unused, unexpired token of
// the purpose, or a not-found error.
func (c conn) PendingEmailToken(ctx context.Context, userID, purpose string, now time.Time) (_ *EmailToken, err error) {
	defer wrap(&err, "PendingEmailToken(%s, %s)", userID, purpose)
	var t EmailToken
	var created, expires, since int64
	err = c.queryRow(ctx, `SELECT id, token_hash, user_id, purpose, email, created_at, expires_at, factors_since FROM email_tokens
		WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id LIMIT 1`, userID, purpose, ms(now)).
		Scan(&t.ID, &t.TokenHash, &t.UserID, &t.Purpose, &t.Email, &created, &expires, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("pending link")
	}
	if err != nil {
		return nil, err
	}
	t.Created, t.Expires, t.FactorsSince = fromMS(created), fromMS(expires), fromMS(since)
	return &t, nil
}

// DeleteEmailTokens removes the user's unused tokens of the purpose created
// after since (zero: all of them), except the token exceptID, and returns
// how many went.
func (tx *Tx) DeleteEmailTokens(ctx context.Context, userID, purpose string, since time.Time, exceptID string) (_ int64, err error) {
	defer wrap(&err, "DeleteEmailTokens(%s, %s, %s)", userID, purpose, exceptID)
	res, err := tx.exec(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND created_at > ? AND id <> ?`,
		userID, purpose, ms(since), exceptID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
