package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"portal"
)

// Enrolment is what a request needs of a user's two-factor enrolment:
// whether there is one, and whether it is verified (active).
type Enrolment struct {
	Enrolled, Verified bool
}

// GetSessionUserByTokenHash returns the session whose token hashes to hash,
// its user and the user's two-factor enrolment, read together in one query:
// the first read of every authenticated request (one round trip instead of
// three). They are read from the database on each call, so that a deleted
// session, a disabled user or a change of second factor takes effect on the
// next request.
func (c conn) GetSessionUserByTokenHash(ctx context.Context, hash string) (_ *portal.Session, _ *portal.User, _ Enrolment, err error) {
	defer wrap(&err, "GetSessionUserByTokenHash")
	row := c.queryRow(ctx, `SELECT `+prefixCols("s.", sessionCols)+`, `+prefixCols("u.", userCols)+`, tf.verified
		FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN two_factor tf ON tf.user_id = u.id
		WHERE s.token_hash = ?`, hash)
	var u *portal.User
	var tf sql.NullBool
	s, err := scanSession(scanFunc(func(sd ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return row.Scan(append(append(sd[:len(sd):len(sd)], ud...), &tf)...)
		}))
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, Enrolment{}, notFound("session")
	}
	if err != nil {
		return nil, nil, Enrolment{}, err
	}
	return s, u, Enrolment{Enrolled: tf.Valid, Verified: tf.Valid && tf.Bool}, nil
}

// GetAPITokenUserByKeyHash returns the API token whose key hashes to hash,
// its user and the user's two-factor enrolment, read together in one query
// (as GetSessionUserByTokenHash).
func (c conn) GetAPITokenUserByKeyHash(ctx context.Context, hash string) (_ *APIToken, _ *portal.User, _ Enrolment, err error) {
	defer wrap(&err, "GetAPITokenUserByKeyHash")
	row := c.queryRow(ctx, `SELECT `+prefixCols("t.", apiTokenCols)+`, `+prefixCols("u.", userCols)+`, tf.verified
		FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN two_factor tf ON tf.user_id = u.id
		WHERE t.key_hash = ?`, hash)
	var u *portal.User
	var tf sql.NullBool
	t, err := scanAPIToken(scanFunc(func(td ...any) error {
		var err error
		u, err = scanUser(scanFunc(func(ud ...any) error {
			return row.Scan(append(append(td[:len(td):len(td)], ud...), &tf)...)
		}))
		return err
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, Enrolment{}, apiTokenNotFound()
	}
	if err != nil {
		return nil, nil, Enrolment{}, err
	}
	return t, u, Enrolment{Enrolled: tf.Valid, Verified: tf.Valid && tf.Bool}, nil
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
