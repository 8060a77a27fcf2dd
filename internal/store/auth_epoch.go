package store

import (
	"context"
	"database/sql"
)

// authEpochQuery reads the auth_epoch counter (migration 00019).
const authEpochQuery = `SELECT n FROM auth_epoch WHERE id = 1`

// AuthEpoch returns the auth_epoch counter: it moves, by trigger, whenever
// a change may take a right away from a session or an API token, whoever
// made it. The service's authentication cache (internal/app/authcache.go)
// reads it once per request and trusts what it cached only under the same
// value. The statement is prepared once (on each connection of the read
// pool): it runs on every authenticated request.
func (db *DB) AuthEpoch(ctx context.Context) (n int64, err error) {
	defer wrap(&err, "AuthEpoch")
	st, err := db.authEpochStmt(ctx)
	if err != nil {
		return 0, err
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return n, timedOut(ctx, st.QueryRowContext(ctx).Scan(&n))
}

// authEpochStmt prepares the statement of AuthEpoch on first use (the
// table exists only once the database is migrated), and keeps it.
func (db *DB) authEpochStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := db.epochStmt.Load(); st != nil {
		return st, nil
	}
	db.epochMu.Lock()
	defer db.epochMu.Unlock()
	if st := db.epochStmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.read.PrepareContext(ctx, rebind(db.dialect, authEpochQuery))
	if err != nil {
		return nil, classify(err)
	}
	db.epochStmt.Store(st)
	return st, nil
}
