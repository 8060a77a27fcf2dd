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
	s, err := scanSession(c.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ? AND user_id = ?`, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	return s, err
}

// DeleteUserSession signs the user userID out of one session. A session
// of another user, or one already gone, is not found and stays as it is.
func (tx *Tx) DeleteUserSession(ctx context.Context, userID, id string) error {
	return tx.execOne(ctx, notFound("session"), `DELETE FROM sessions WHERE id = ? AND user_id = ?`, id, userID)
}
