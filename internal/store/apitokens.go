package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// APIToken is a user's API token (Mist /api/v1/self/apitokens). The key
// itself is never stored, only KeyHash (authn.HashToken of the key).
type APIToken struct {
	ID       string
	UserID   string
	Name     string
	KeyHash  string
	Created  time.Time
	LastUsed time.Time // zero: never used
}

const apiTokenCols = `id, user_id, name, key_hash, created_at, last_used_at`

func scanAPIToken(row interface{ Scan(...any) error }) (*APIToken, error) {
	var t APIToken
	var created int64
	var used sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.KeyHash, &created, &used); err != nil {
		return nil, err
	}
	t.Created, t.LastUsed = fromMS(created), fromMS(used.Int64)
	return &t, nil
}

func apiTokenNotFound() error { return notFound("API token") }

// CreateAPIToken inserts a token (never used yet). ErrDuplicate when the
// user has a token of the name, compared in lower case.
func (tx *Tx) CreateAPIToken(ctx context.Context, t *APIToken) (err error) {
	defer wrap(&err, "CreateAPIToken")
	_, err = tx.exec(ctx, `INSERT INTO api_tokens (id, user_id, name, key_hash, created_at) VALUES (?,?,?,?,?)`,
		t.ID, t.UserID, t.Name, t.KeyHash, ms(t.Created))
	return err
}

// GetAPITokenByKeyHash finds the token whose key hashes to hash.
func (c conn) GetAPITokenByKeyHash(ctx context.Context, hash string) (_ *APIToken, err error) {
	defer wrap(&err, "GetAPITokenByKeyHash")
	t, err := scanAPIToken(c.queryRow(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apiTokenNotFound()
	}
	return t, err
}

// GetUserAPIToken returns one of a user's tokens; another user's token is
// not found.
func (c conn) GetUserAPIToken(ctx context.Context, userID, id string) (_ *APIToken, err error) {
	defer wrap(&err, "GetUserAPIToken(%s, %s)", userID, id)
	t, err := scanAPIToken(c.queryRow(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE user_id = ? AND id = ?`, userID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apiTokenNotFound()
	}
	return t, err
}

// ListUserAPITokens returns a user's tokens, oldest first.
func (c conn) ListUserAPITokens(ctx context.Context, userID string) (_ []*APIToken, err error) {
	defer wrap(&err, "ListUserAPITokens(%s)", userID)
	rows, err := c.query(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// CountUserAPITokens counts a user's tokens.
func (c conn) CountUserAPITokens(ctx context.Context, userID string) (_ int, err error) {
	defer wrap(&err, "CountUserAPITokens(%s)", userID)
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// RenameAPIToken renames one of a user's tokens (not found otherwise);
// ErrDuplicate when another of theirs has the name, compared in lower case.
func (tx *Tx) RenameAPIToken(ctx context.Context, userID, id, name string) (err error) {
	defer wrap(&err, "RenameAPIToken(%s, %s)", userID, id)
	return tx.execOne(ctx, apiTokenNotFound(), `UPDATE api_tokens SET name = ? WHERE user_id = ? AND id = ?`, name, userID, id)
}

// DeleteAPIToken deletes one of a user's tokens (not found otherwise).
func (tx *Tx) DeleteAPIToken(ctx context.Context, userID, id string) (err error) {
	defer wrap(&err, "DeleteAPIToken(%s, %s)", userID, id)
	return tx.execOne(ctx, apiTokenNotFound(), `DELETE FROM api_tokens WHERE user_id = ? AND id = ?`, userID, id)
}

// DeleteUserAPITokens deletes every token of a user and returns how many.
func (tx *Tx) DeleteUserAPITokens(ctx context.Context, userID string) (_ int64, err error) {
	defer wrap(&err, "DeleteUserAPITokens(%s)", userID)
	res, err := tx.exec(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// TouchAPIToken records a use of a token at now, unless it was recorded
// after now-every already: of concurrent uses within that interval at most
// one writes. It reports whether the row was updated.
func (tx *Tx) TouchAPIToken(ctx context.Context, id string, now time.Time, every time.Duration) (_ bool, err error) {
	defer wrap(&err, "TouchAPIToken(%s)", id)
	res, err := tx.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		ms(now), id, ms(now.Add(-every)))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
