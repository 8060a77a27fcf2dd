package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"portal"
)

const sessionCols = `id, token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, auth_at, two_factor_passed, ip, user_agent, password_only`

func (tx *Tx) CreateSession(ctx context.Context, s *portal.Session) (err error) {
	defer wrap(&err, "CreateSession")
	return tx.execLater(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		s.ID, s.TokenHash, s.UserID, s.CSRFToken, ms(s.CreatedTime), ms(s.LastSeenTime), ms(s.ExpiresTime), ms(s.AuthTime), s.TwoFactorPassed, s.IP, s.UserAgent, s.PasswordOnly)
}

func scanSession(row interface{ Scan(...any) error }) (*portal.Session, error) {
	var s portal.Session
	var created, seen, expires, auth int64
	if err := row.Scan(&s.ID, &s.TokenHash, &s.UserID, &s.CSRFToken, &created, &seen, &expires, &auth, &s.TwoFactorPassed, &s.IP, &s.UserAgent, &s.PasswordOnly); err != nil {
		return nil, err
	}
	s.CreatedTime, s.LastSeenTime, s.ExpiresTime, s.AuthTime = fromMS(created), fromMS(seen), fromMS(expires), fromMS(auth)
	return &s, nil
}

// GetSessionByTokenHash returns the session whose token hashes to hash.
func (c conn) GetSessionByTokenHash(ctx context.Context, hash string) (_ *portal.Session, err error) {
	defer wrap(&err, "GetSessionByTokenHash")
	s, err := scanSession(c.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	return s, err
}

// TouchSession slides a session's expiry.
func (tx *Tx) TouchSession(ctx context.Context, id string, seen, expires time.Time) (err error) {
	defer wrap(&err, "TouchSession(%s)", id)
	return tx.execLater(ctx, `UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ?`, ms(seen), ms(expires), id)
}

// PassPendingSession records that the session id, which owed its second
// factor, gave it, and gives it a new token hash, in one statement, if its
// token hash is still oldHash; otherwise (the session is gone, or another
// request passed it first) it is not found and nothing changes. Being one
// statement matters to auth_epoch (migration 00023): a session owing its
// second factor is never in an authentication cache, so its passing, new
// token included, does not move the counter, while a new token of any
// other session does.
func (tx *Tx) PassPendingSession(ctx context.Context, id, oldHash, newHash string) (err error) {
	defer wrap(&err, "PassPendingSession(%s)", id)
	return tx.execOne(ctx, notFound("session"), `UPDATE sessions SET two_factor_passed = ?, token_hash = ? WHERE id = ? AND token_hash = ?`,
		true, newHash, id, oldHash)
}

// DeleteUserSessionByToken ends the session whose token hashes to hash if
// it belongs to the user userID, and reports whether it did. A session of
// another user stays as it is.
func (tx *Tx) DeleteUserSessionByToken(ctx context.Context, userID, hash string) (_ bool, err error) {
	defer wrap(&err, "DeleteUserSessionByToken(%s)", userID)
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE token_hash = ? AND user_id = ?`, hash, userID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (tx *Tx) DeleteSession(ctx context.Context, id string) (err error) {
	defer wrap(&err, "DeleteSession(%s)", id)
	_, err = tx.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteExpiredSessions removes sessions that expired before now.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (_ int64, err error) {
	defer wrap(&err, "DeleteExpiredSessions")
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, ms(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteUserSessions signs a user out everywhere except the session
// exceptID (empty: everywhere) and returns how many sessions ended.
func (tx *Tx) DeleteUserSessions(ctx context.Context, userID, exceptID string) (_ int64, err error) {
	defer wrap(&err, "DeleteUserSessions(%s, %s)", userID, exceptID)
	res, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, exceptID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ListUserSessions returns a user's live sessions, most recently seen first.
func (c conn) ListUserSessions(ctx context.Context, userID string, now time.Time) (_ []*portal.Session, err error) {
	defer wrap(&err, "ListUserSessions(%s)", userID)
	rows, err := c.query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC, id`, userID, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*portal.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// GetUserSession returns the session with id if it is one of the user
// userID's. A session of another user is not found, exactly like an unknown id.
func (c conn) GetUserSession(ctx context.Context, userID, id string) (_ *portal.Session, err error) {
	defer wrap(&err, "GetUserSession(%s, %s)", userID, id)
	s, err := scanSession(c.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ? AND user_id = ?`, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session")
	}
	return s, err
}

// DeleteUserSession signs the user userID out of one session. A session
// of another user, or one already gone, is not found and stays as it is.
func (tx *Tx) DeleteUserSession(ctx context.Context, userID, id string) (err error) {
	defer wrap(&err, "DeleteUserSession(%s, %s)", userID, id)
	return tx.execOne(ctx, notFound("session"), `DELETE FROM sessions WHERE id = ? AND user_id = ?`, id, userID)
}

// PromoteSession turns a password-only session (opened by a recovery link)
// into a full one once the new password is set.
func (tx *Tx) PromoteSession(ctx context.Context, id string, authTime, expires time.Time) (err error) {
	defer wrap(&err, "PromoteSession(%s)", id)
	return tx.execOne(ctx, notFound("session"), `UPDATE sessions SET password_only = ?, auth_at = ?, last_seen_at = ?, expires_at = ? WHERE id = ?`,
		false, ms(authTime), ms(authTime), ms(expires), id)
}

// PassSessionTwoFactor records that a session gave its second factor.
func (tx *Tx) PassSessionTwoFactor(ctx context.Context, sessionID string) (err error) {
	defer wrap(&err, "PassSessionTwoFactor(%s)", sessionID)
	return tx.execOne(ctx, notFound("session"), `UPDATE sessions SET two_factor_passed = ? WHERE id = ?`, true, sessionID)
}
