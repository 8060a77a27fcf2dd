package store

import (
	"context"
	"database/sql"
	"sync"
)

// authEpochQuery reads the auth_epoch counter (migration 00019).
const authEpochQuery = `SELECT n FROM auth_epoch WHERE id = 1`

// AuthEpoch returns the auth_epoch counter: it moves, by trigger, whenever
// a change may take a right away from a session or an API token, whoever
// made it. The service's authentication cache (internal/app/authcache.go)
// reads it once per request; when it has moved, the cache drops what it
// holds of the users the moves concern (AuthChanges) before it is used.
//
// The value returned was read from the database after the call began, so
// every change committed before it is counted. Concurrent calls share
// reads (epochReads): a call waits for the next read to start, never one
// already under way, so that many requests at once cost one read each
// round, not one each. The statement is prepared once.
func (db *DB) AuthEpoch(ctx context.Context) (int64, error) {
	return db.epochReads.get(ctx, db.readAuthEpoch)
}

func (db *DB) readAuthEpoch(ctx context.Context) (n int64, err error) {
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

// sharedReads lets concurrent callers share reads of one value, without
// ever giving a caller a read that began before the caller did. While a
// read runs, callers that arrive gather into the next batch; when the read
// ends, the next batch's read begins (in its own goroutine) and serves them
// all. A caller that finds no read running begins one at once.
type sharedReads struct {
	mu      sync.Mutex
	running bool
	next    *readBatch // callers waiting for the read after the running one
}

// readBatch is one read and the callers it serves.
type readBatch struct {
	done    chan struct{}
	callers int // how many wait for it (under sharedReads.mu)
	n       int64
	err     error
}

func (r *sharedReads) get(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	r.mu.Lock()
	b := r.next
	if b == nil {
		b = &readBatch{done: make(chan struct{})}
		r.next = b
	}
	b.callers++
	lead := !r.running
	if lead {
		r.running, r.next = true, nil
	}
	r.mu.Unlock()
	if lead {
		r.run(b, read)
	}
	select {
	case <-b.done:
		return b.n, b.err
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// run reads for b, then hands the next batch, if callers gathered, to a
// goroutine of its own, so that b's callers go on at once.
func (r *sharedReads) run(b *readBatch, read func(context.Context) (int64, error)) {
	// Not the caller's context: the read serves every caller of the batch,
	// and is bounded by the store's time limit.
	b.n, b.err = read(context.Background())
	close(b.done)
	r.mu.Lock()
	next := r.next
	r.next = nil
	r.running = next != nil
	r.mu.Unlock()
	if next != nil {
		go r.run(next, read)
	}
}

// AuthChange is a row of auth_changes (migration 00024): the value
// auth_epoch took with a change, and the user whose sessions and tokens
// the change concerns, or "" for everyone (an organization's policies or
// settings, an organization or a site deleted).
type AuthChange struct {
	Epoch  int64
	UserID string
}

// AuthChangesKept is how many of the last values of auth_epoch keep their
// rows of auth_changes: Purge deletes the rows of older values. A cache
// that last caught up before them finds no row for the value after its
// own, and empties itself (internal/app/authcache.go).
const AuthChangesKept = 10_000

// AuthChanges returns the rows of auth_changes of the values after after
// up to upTo, in the order of the values, at most limit of them. Every
// value has at least one row until Purge deletes it, so the rows reach
// back to after exactly when the first is of value after+1 (or there is
// none to read: after == upTo).
func (c conn) AuthChanges(ctx context.Context, after, upTo int64, limit int) (_ []AuthChange, err error) {
	defer wrap(&err, "AuthChanges(%d, %d)", after, upTo)
	rows, err := c.query(ctx, `SELECT epoch, user_id FROM auth_changes WHERE epoch > ? AND epoch <= ? ORDER BY epoch LIMIT ?`, after, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuthChange
	for rows.Next() {
		var ch AuthChange
		var user sql.NullString
		if err := rows.Scan(&ch.Epoch, &user); err != nil {
			return nil, err
		}
		ch.UserID = user.String
		out = append(out, ch)
	}
	return out, rows.Err()
}
