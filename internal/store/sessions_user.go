package store

import (
	"context"
	"database/sql"
	"errors"

	"portal"
)

// GetUserSession returns the session id of the user userID. A session of
// another user is not found, exactly like an unknown id.
func (c conn) GetUserSession(ctx context.Context, userID, id string) (*portal.Session, error) {
	var s portal.Session
	var created, seen, expires, auth int64
	err := c.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ? AND user_id = ?`, id, userID).Scan(
		&s.ID, &s.TokenHash, &s.UserID, &s.CSRFToken, &created, &seen, &expires, &auth, &s.TwoFactorPassed, &s.IP, &s.UserAgent, &s.PasswordOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	if err != nil {
		return nil, err
	}
	s.CreatedTime, s.LastSeenTime, s.ExpiresTime, s.AuthTime = fromMS(created), fromMS(seen), fromMS(expires), fromMS(auth)
	return &s, nil
}

// DeleteUserSession signs the user userID out of one session. A session
// of another user, or one already gone, is not found and stays as it is.
func (tx *Tx) DeleteUserSession(ctx context.Context, userID, id string) error {
	return tx.execOne(ctx, notFound("session"), `DELETE FROM sessions WHERE id = ? AND user_id = ?`, id, userID)
}
