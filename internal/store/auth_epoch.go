package store

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"time"
)

// AuthEpoch returns the auth_epoch counter (migration 00019): it moves, by
// trigger, whenever a change may take a right away from a session or an
// API token, whoever made it. The authentication cache reads it with the
// log of whom its moves concern (AuthEpochChanges, one statement); this
// plain read is for tests and tools that only need the value.
func (c conn) AuthEpoch(ctx context.Context) (n int64, err error) {
	defer wrap(&err, "AuthEpoch")
	err = c.queryRow(ctx, `SELECT n FROM auth_epoch WHERE id = 1`).Scan(&n)
	return n, err
}

// SharedReads lets concurrent callers share reads of one value, without
// ever giving a caller a read that began before the caller did. While a
// read runs, callers that arrive gather into the next batch; when the read
// ends, the next batch's read begins (in its own goroutine) and serves them
// all. A caller that finds no read running begins one at once. All the
// callers of one SharedReads pass the same read function: a batch is read
// by whichever caller's function began it. The authentication cache
// shares its reads of AuthEpochChanges so (internal/app/authcache.go).
type SharedReads struct {
	// Gather lets a read that follows another wait for more callers:
	// while callers keep joining its batch when the goroutines ready to
	// run have had a turn (runtime.Gosched), and until Gather after the
	// read before began. Under load, so, a read serves the requests that
	// the machine had in hand rather than the one or two that came while
	// the read before ran, and reads do not follow each other back to
	// back. A read that follows none (no read running when its first
	// caller came) never waits. Zero: no read waits.
	Gather time.Duration

	mu      sync.Mutex
	running bool       // a run is under way (run): reading, or gathering for the next read
	next    *readBatch // callers waiting for a read that has not begun
	began   time.Time  // when the last read began (set by the one run under way)
	yield   func()     // runtime.Gosched; tests replace it
}

// readBatch is one read and the callers it serves.
type readBatch struct {
	done    chan struct{}
	callers int // how many wait for it (under SharedReads.mu)
	n       int64
	err     error
}

// Get returns the value of a read that began after the call did.
func (r *SharedReads) Get(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	r.mu.Lock()
	b := r.next
	if b == nil {
		b = &readBatch{done: make(chan struct{})}
		r.next = b
	}
	b.callers++
	lead := !r.running
	r.running = true
	r.mu.Unlock()
	if lead {
		r.run(b, read, false)
	}
	select {
	case <-b.done:
		return b.n, b.err
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// run reads for b, which callers may join until its read begins (after
// gather when it follows another read), then hands the next batch, if
// callers came, to a goroutine of its own, so that b's callers go on at
// once. One run is under way at a time.
func (r *SharedReads) run(b *readBatch, read func(context.Context) (int64, error), follows bool) {
	if follows && r.Gather > 0 {
		r.gather(b)
	}
	r.mu.Lock()
	r.next = nil // callers from now on need a later read
	r.began = time.Now()
	r.mu.Unlock()
	// Not the caller's context: the read serves every caller of the batch,
	// and is bounded by the store's time limit.
	b.n, b.err = read(context.Background())
	close(b.done)
	r.mu.Lock()
	next := r.next
	r.running = next != nil
	r.mu.Unlock()
	if next != nil {
		go r.run(next, read, true)
	}
}

// gather yields while b gains callers, until Gather after the last read
// began.
func (r *SharedReads) gather(b *readBatch) {
	yield := r.yield
	if yield == nil {
		yield = runtime.Gosched
	}
	until := r.began.Add(r.Gather)
	for seen := -1; time.Now().Before(until); {
		r.mu.Lock()
		n := b.callers
		r.mu.Unlock()
		if n == seen {
			return
		}
		seen = n
		yield()
	}
}

// AuthChange is a row of auth_changes (migration 00024): the value
// auth_epoch took with a change, and the user whose sessions and tokens
// the change concerns (an organization changed: each of its members), or
// "" for everyone (an organization deleted, a site renamed or deleted).
type AuthChange struct {
	Epoch  int64
	UserID string
}

// AuthChangesKept is how many of the last values of auth_epoch keep their
// rows of auth_changes: Purge deletes the rows of older values. A cache
// that last caught up before them finds no row for the value after its
// own, and empties itself (internal/app/authcache.go).
const AuthChangesKept = 10_000

// authEpochChangesQuery reads the counter and the rows of auth_changes of
// the values after the first argument up to it, in the order of the
// values, at most the second argument of them: one row with no change
// when there is none.
const authEpochChangesQuery = `SELECT a.n, c.epoch, c.user_id FROM auth_epoch a
LEFT JOIN auth_changes c ON c.epoch > ? AND c.epoch <= a.n
WHERE a.id = 1 ORDER BY c.epoch LIMIT ?`

// AuthEpochChanges returns the auth_epoch counter, as AuthEpoch does, with
// the rows of auth_changes of the values after after up to it, in the
// order of the values, at most limit of them: one statement, so one round
// trip and one snapshot (every value up to the counter was committed with
// its rows). Every value has at least one row until Purge deletes it, so
// the rows reach back to after exactly when the first is of value after+1
// (or there is none to read: after == n). after = math.MaxInt64 reads the
// counter alone. Unlike AuthEpoch, calls do not share reads: the
// authentication cache shares them itself (internal/app/authcache.go),
// with the value it has caught up with as after.
func (c conn) AuthEpochChanges(ctx context.Context, after int64, limit int) (n int64, _ []AuthChange, err error) {
	defer wrap(&err, "AuthEpochChanges(%d)", after)
	rows, err := c.query(ctx, authEpochChangesQuery, after, limit)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var out []AuthChange
	read := false
	for rows.Next() {
		read = true
		var epoch sql.NullInt64
		var user sql.NullString
		if err := rows.Scan(&n, &epoch, &user); err != nil {
			return 0, nil, err
		}
		if epoch.Valid {
			out = append(out, AuthChange{Epoch: epoch.Int64, UserID: user.String})
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if !read {
		return 0, nil, sql.ErrNoRows // no counter: not migrated
	}
	return n, out, nil
}
