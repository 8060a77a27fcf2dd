package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Queries of the e-mail change and its "this wasn't me" revert links, on
// top of the email_tokens table (tokens.go).

// AddEmailToken stores a token without replacing the user's other tokens
// of the same purpose (several "this wasn't me" links may be valid at once).
func (tx *Tx) AddEmailToken(ctx context.Context, t *EmailToken) error {
	_, err := tx.exec(ctx, `INSERT INTO email_tokens (id, token_hash, user_id, purpose, email, created_at, expires_at, factors_since) VALUES (?,?,?,?,?,?,?,?)`,
		t.ID, t.TokenHash, t.UserID, t.Purpose, t.Email, ms(t.Created), ms(t.Expires), ms(t.FactorsSince))
	return err
}

// PendingEmailToken returns the user's newest unused, unexpired token of
// the purpose, or a not-found error.
func (c conn) PendingEmailToken(ctx context.Context, userID, purpose string, now time.Time) (*EmailToken, error) {
	var t EmailToken
	var created, expires, since int64
	err := c.queryRow(ctx, `SELECT id, token_hash, user_id, purpose, email, created_at, expires_at, factors_since FROM email_tokens
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
func (tx *Tx) DeleteEmailTokens(ctx context.Context, userID, purpose string, since time.Time, exceptID string) (int64, error) {
	res, err := tx.exec(ctx, `DELETE FROM email_tokens WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND created_at > ? AND id <> ?`,
		userID, purpose, ms(since), exceptID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
