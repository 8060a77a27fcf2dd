package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"portal"
)

// GetSessionUserByTokenHash returns the session whose token hashes to hash
// and its user, read together in one query: the first read of every
// authenticated request (one round trip instead of two). Both are read
// from the database on each call, so that a deleted session or a disabled
// user takes effect on the next request.
func (c conn) GetSessionUserByTokenHash(ctx context.Context, hash string) (_ *portal.Session, _ *portal.User, err error) {
	defer wrap(&err, "GetSessionUserByTokenHash")
	row := c.queryRow(ctx, `SELECT `+prefixCols("s.", sessionCols)+`, `+prefixCols("u.", userCols)+
		` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hash)
	var u *portal.User
	s, err := scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error { return row.Scan(append(sd[:len(sd):len(sd)], ud...)...) }))
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, notFound("session")
	}
	if err != nil {
		return nil, nil, err
	}
	return s, u, nil
}

// GetAPITokenUserByKeyHash returns the API token whose key hashes to hash
// and its user, read together in one query (as GetSessionUserByTokenHash).
func (c conn) GetAPITokenUserByKeyHash(ctx context.Context, hash string) (_ *APIToken, _ *portal.User, err error) {
	defer wrap(&err, "GetAPITokenUserByKeyHash")
	row := c.queryRow(ctx, `SELECT `+prefixCols("t.", apiTokenCols)+`, `+prefixCols("u.", userCols)+
		` FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = ?`, hash)
	var u *portal.User
	t, err := scanAPIToken(scanFunc(func(td ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error { return row.Scan(append(td[:len(td):len(td)], ud...)...) }))
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, apiTokenNotFound()
	}
	if err != nil {
		return nil, nil, err
	}
	return t, u, nil
}

// scanFunc lets one row's Scan fill two scan functions' destinations.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// prefixCols qualifies each column of a ", "-separated list with prefix.
func prefixCols(prefix, cols string) string {
	names := strings.Split(cols, ", ")
	for i, n := range names {
		names[i] = prefix + n
	}
	return strings.Join(names, ", ")
}
