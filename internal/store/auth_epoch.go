package store

import "context"

// AuthEpoch returns the auth_epoch counter (migration 00019): it moves, by
// trigger, whenever a change may take a right away from a session or an API
// token, whoever made it. The service's authentication cache
// (internal/app/authcache.go) reads it once per request and trusts what it
// cached only under the same value.
func (c conn) AuthEpoch(ctx context.Context) (n int64, err error) {
	defer wrap(&err, "AuthEpoch")
	err = c.queryRow(ctx, `SELECT n FROM auth_epoch WHERE id = 1`).Scan(&n)
	return n, err
}
