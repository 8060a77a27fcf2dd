// Package store keeps Portal's data in SQLite (the embedded default) or
// PostgreSQL through database/sql. SQL is written once with ? placeholders
// and rebound for PostgreSQL; times are Unix milliseconds passed from Go.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portal/internal/derrors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"portal"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the SQL flavour of a database.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database: a write pool (one connection on SQLite, whose
// transactions begin IMMEDIATE) and a read pool.
type DB struct {
	conn    // reads go through the read pool
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	probe   probe // Ready's write probe
	// writes counts the write transactions that reached their commit
	// (Writes).
	writes atomic.Uint64
	// writeStmts are the write pool's prepared statements (SQLite).
	writeStmts *stmtCache
}

// Pools returns the connection pools by name, for monitoring only
// (Prometheus's go_sql_* metrics, server.Metrics.SetPools): "postgres" for
// PostgreSQL, "sqlite_write" and "sqlite_read" for SQLite. Queries go
// through DB's methods.
func (db *DB) Pools() map[string]*sql.DB {
	if db.dialect == Postgres {
		return map[string]*sql.DB{"postgres": db.write}
	}
	return map[string]*sql.DB{"sqlite_write": db.write, "sqlite_read": db.read}
}

// Writes returns how many write transactions of this process reached
// their commit, counting one whose commit failed (it may have landed). A
// reader that saw the same count before and after knows that none of the
// process's own changes came in between (internal/app/authcache.go).
func (db *DB) Writes() uint64 { return db.writes.Load() }

// probe is the last answer of Ready's write probe.
type probe struct {
	mu  sync.Mutex
	now func() time.Time // time.Now; tests change it
	ok  time.Time        // when the probe last succeeded
}

// probeEvery is how long a successful write probe stands: Ready writes at
// most that often while the database is well, and on every call while it
// fails (so that it notices the recovery at once).
const probeEvery = 5 * time.Second

// A PostgreSQL server that stops answering without refusing (a network
// path that drops packets, a hung host) must not hang requests: connecting
// is bounded by connectTimeout (unless the URL sets connect_timeout), and
// every statement on the pool, and every write transaction as a whole, by
// opTimeout. An operation that reaches its bound fails with errTimeout,
// which the store classifies as portal.EUNAVAILABLE (503 with
// Retry-After); a caller that gives up first (a client that went away:
// context.Canceled) keeps its own error.
//
// SQLite gets no such bound: its file is local and cannot be blackholed,
// a locked database already fails after the busy timeout (10 s, then
// SQLITE_BUSY, also 503), and its one write connection is queued for in
// Go, so that a bound of a few seconds would turn a burst of ordinary
// writes into failures.
const (
	connectTimeout = 5 * time.Second
	opTimeout      = 5 * time.Second
)

// errTimeout marks an operation that reached the store's own bound.
var errTimeout = errors.New("store: the database did not answer in time")

// sqliteSynchronous is SQLite's synchronous setting. In WAL mode, NORMAL
// syncs the WAL only at checkpoints: the database stays consistent, but the
// last transactions acknowledged before a power loss or an OS crash can be
// lost. FULL syncs the WAL at every commit, so that a write Portal has
// acknowledged survives them too; it costs an fsync per write transaction
// (README, Durability: measured with BenchmarkSQLiteSynchronous). A kill
// of the process alone loses nothing with either.
var sqliteSynchronous = "FULL"

// pgPoolSize is how many connections an instance opens to PostgreSQL at
// most, and keeps open while they have been used in the last five minutes.
const pgPoolSize = 20

// Open opens the database named by url: a postgres:// URL, or else a SQLite
// file path. The data directory of a SQLite file is created if missing.
func Open(ctx context.Context, url string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, err
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = connectTimeout
		}
		pool := stdlib.OpenDB(*cfg)
		// As many idle as open: a connection given back while no request
		// waits is kept, not closed to be opened again a moment later (a
		// new PostgreSQL backend process each time; with 10 of 20 kept,
		// the organization page under load opened about 1,800 connections
		// in one run of portal-bench, and served a third of what it does
		// with them kept). Idle ones close after five minutes.
		pool.SetMaxOpenConns(pgPoolSize)
		pool.SetMaxIdleConns(pgPoolSize)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		if err := pool.PingContext(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		db := &DB{dialect: Postgres, write: pool, read: pool}
		db.conn = conn{q: pool, d: Postgres, timeout: opTimeout}
		return db, nil
	}
	path := strings.TrimPrefix(url, "sqlite://")
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(" + sqliteSynchronous + ")"
	write, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One writer at a time is all SQLite allows; queueing in Go keeps the
	// busy handler out of the way and avoids lock-order inversions.
	write.SetMaxOpenConns(1)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, err
	}
	// Every read connection stays open once opened, with its prepared
	// statements (stmtcache.go), as PostgreSQL's do.
	readers := max(4, 2*runtime.NumCPU())
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	db := &DB{dialect: SQLite, write: write, read: read, writeStmts: newStmtCache(write)}
	db.conn = conn{q: read, d: SQLite, stmts: newStmtCache(read)}
	return db, nil
}

// privateFiles makes the SQLite file at path, and the -wal and -shm files
// beside it, readable and writable by the owner only: they hold password
// hashes and session data. SQLite creates the -wal and -shm files with the
// mode of the database file, so creating that one 0600 before SQLite opens
// it is enough for all three, whatever the umask. Files an older version
// left readable by others are tightened; a file Portal does not own (chmod
// refused) is left as it is.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open SQLite %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, fi.Mode().Perm()&0o700)
		}
	}
	return nil
}

// Dialect reports the database flavour.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes both pools.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// SetTimeout changes the bound of each operation on PostgreSQL (opTimeout
// by default; 0: none), for tests. Call it before using db.
func (db *DB) SetTimeout(d time.Duration) {
	if db.dialect == Postgres {
		db.conn.timeout = d
	}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	bctx, cancel := db.bound(ctx)
	defer cancel()
	return timedOut(bctx, db.write.PingContext(bctx))
}

// Ready checks that the database answers and takes writes (for /readyz): a
// ping, then a write probe, the upsert of health_probe's one row, unless
// one succeeded less than probeEvery ago. A database that is away,
// read-only or full is not ready; the error is then portal.EUNAVAILABLE,
// with the cause.
func (db *DB) Ready(ctx context.Context) (err error) {
	defer wrap(&err, "Ready")
	ctx, cancel := db.bound(ctx)
	defer cancel()
	defer func() { err = timedOut(ctx, err) }()
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	db.probe.mu.Lock()
	defer db.probe.mu.Unlock()
	now := time.Now
	if db.probe.now != nil {
		now = db.probe.now
	}
	t := now()
	if !db.probe.ok.IsZero() && t.Sub(db.probe.ok) < probeEvery && !t.Before(db.probe.ok) {
		return nil
	}
	db.probe.ok = time.Time{}
	if _, err := db.write.ExecContext(ctx, rebind(db.dialect, "INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at"), ms(t)); err != nil {
		return fmt.Errorf("write probe: %w", err)
	}
	db.probe.ok = t
	return nil
}

// Migrate applies every pending embedded migration of the dialect.
func (db *DB) Migrate(ctx context.Context) (err error) {
	defer wrap(&err, "Migrate")
	p, err := db.provider()
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// MigrationVersion reports the current schema version.
func (db *DB) MigrationVersion(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "MigrationVersion")
	p, err := db.provider()
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.dialect))
	if err != nil {
		return nil, err
	}
	d := goose.DialectSQLite3
	if db.dialect == Postgres {
		d = goose.DialectPostgres
	}
	return goose.NewProvider(d, db.write, sub)
}

// Tx is a write transaction. Every change and its audit entry and mail are
// written through one Tx.
type Tx struct {
	conn  // its tx is the transaction
	after []func()
}

// AfterCommit runs fn once the transaction has committed (never when it
// rolls back): for waking a worker that must find what the transaction
// wrote.
func (tx *Tx) AfterCommit(fn func()) { tx.after = append(tx.after, fn) }

// Write runs fn in a write transaction and commits it when fn returns nil.
// Keep fn short: no password hashing and no network calls inside.
// On PostgreSQL the whole transaction is bounded by the store's timeout.
// Its commit is durable: Write returns once the database has synced it
// (SQLite's synchronous=FULL, PostgreSQL's synchronous_commit).
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	return db.writeTx(ctx, true, fn)
}

// WriteUnsynced is Write for a transaction whose loss in a crash of the
// operating system or of PostgreSQL would be harmless, such as counting a
// login attempt: its commit does not wait for the database to sync it to
// disk. It is as atomic, as isolated and as visible as Write's, and a kill
// of Portal alone loses nothing; only the last such commits before a crash
// of the machine or of PostgreSQL may be lost. The next synced commit
// syncs it too (SQLite's one write-ahead log, PostgreSQL's WAL). On SQLite
// the write connection runs it with synchronous=NORMAL, set before the
// transaction and restored after it (SQLite allows no change inside one);
// a connection that cannot be restored is closed, never reused. On
// PostgreSQL it is SET LOCAL synchronous_commit = off.
func (db *DB) WriteUnsynced(ctx context.Context, fn func(tx *Tx) error) error {
	return db.writeTx(ctx, false, fn)
}

func (db *DB) writeTx(ctx context.Context, synced bool, fn func(tx *Tx) error) error {
	if db.dialect == Postgres {
		return db.writePostgres(ctx, synced, fn)
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var unsynced *sql.Conn // SQLite's write connection, taken for WriteUnsynced
	var begin interface {
		BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
	} = db.write
	if !synced && db.dialect == SQLite {
		var err error
		if unsynced, err = db.unsyncedConn(ctx); err != nil {
			return classify(timedOut(ctx, fmt.Errorf("begin: %w", err)))
		}
		begin = unsynced
	}
	sqlTx, err := begin.BeginTx(ctx, nil)
	if err != nil {
		if unsynced != nil {
			db.resync(unsynced)
		}
		return classify(timedOut(ctx, fmt.Errorf("begin: %w", err)))
	}
	tx := &Tx{conn: conn{q: sqlTx, d: db.dialect, stmts: db.writeStmts, tx: sqlTx}}
	if dl, ok := ctx.Deadline(); ok && db.timeout > 0 {
		// Statements run with the ctx fn passes them; each gets the
		// transaction's deadline too.
		tx.deadline = dl
	}
	committed, ended := false, false
	// end rolls back unless committed, and frees the write connection; it
	// runs once: deferred, or before AfterCommit's functions, which may
	// write again.
	end := func() {
		if ended {
			return
		}
		ended = true
		// Roll back when fn returns an error and also when it panics: an
		// open transaction would otherwise keep SQLite's only write
		// connection, blocking every later write of the process.
		if !committed {
			_ = sqlTx.Rollback()
		}
		switch {
		case unsynced != nil:
			db.resync(unsynced)
		case db.writeStmts != nil: // the write connection is free again
			db.writeStmts.prepareDeferred(ctx)
		}
	}
	defer end()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	err = sqlTx.Commit()
	db.writes.Add(1)
	end()
	if err != nil {
		return classify(timedOut(ctx, fmt.Errorf("commit: %w", err)))
	}
	for _, fn := range tx.after {
		fn()
	}
	return nil
}

// writePostgres is writeTx on PostgreSQL. The transaction is begun and
// ended by statements on one connection of the pool rather than by
// database/sql, so that its BEGIN goes with its first statement, and the
// statements whose answer nobody waits for (execLater: audit entries, new
// sessions, counters given back) with the next statement or its COMMIT,
// in one round trip (pgBatch). Unsynced, SET LOCAL synchronous_commit =
// off goes with them. A transaction that does not commit is rolled back;
// a connection where that fails is closed, never given back to the pool
// inside a transaction.
func (db *DB) writePostgres(ctx context.Context, synced bool, fn func(tx *Tx) error) (err error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	c, err := db.write.Conn(ctx)
	if err != nil {
		return classify(timedOut(ctx, fmt.Errorf("begin: %w", err)))
	}
	tx := &Tx{conn: conn{q: c, d: Postgres, later: &pgBatch{c: c}}}
	if dl, ok := ctx.Deadline(); ok && db.timeout > 0 {
		tx.deadline = dl
	}
	committed := false
	defer func() {
		if !committed {
			rollback(c)
		}
		_ = c.Close()
	}()
	// BEGIN goes with the transaction's first statement (or its COMMIT).
	tx.later.queue("BEGIN", nil)
	if err := fn(tx); err != nil {
		return err
	}
	if !synced {
		tx.later.queue("SET LOCAL synchronous_commit = off", nil)
	}
	err = tx.later.send(ctx, "COMMIT")
	db.writes.Add(1)
	if err != nil {
		return classify(timedOut(ctx, fmt.Errorf("commit: %w", mapErr(err))))
	}
	committed = true
	for _, fn := range tx.after {
		fn()
	}
	return nil
}

// rollback ends c's transaction, if one is open, and closes c when that
// fails (its state is then unknown).
func rollback(c *sql.Conn) { restoreOrDiscard(c, "ROLLBACK") }

// restoreOrDiscard runs stmt on c, which puts the connection back in the
// state the pool expects (no transaction open, SQLite's sync setting), on
// a context of its own, since the caller's may have ended; if that fails,
// c is closed, never handed out again in an unknown state.
func restoreOrDiscard(c *sql.Conn, stmt string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ExecContext(ctx, stmt); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn }) // closes it
	}
}

// pgBatch holds the statements of a PostgreSQL transaction that wait to
// be sent (execLater).
type pgBatch struct {
	c      *sql.Conn
	queued []queuedStmt
}

type queuedStmt struct {
	query string
	args  []any
}

// sentHook, when set (tests only), sees each batch before it is sent.
var sentHook atomic.Pointer[func(queued []queuedStmt, tail string)]

func (b *pgBatch) queue(query string, args []any) {
	b.queued = append(b.queued, queuedStmt{query, args})
}

// send sends the queued statements and then tail (if any) in one round
// trip, and returns the first error. A COMMIT answered with ROLLBACK (the
// transaction had failed) is an error too.
func (b *pgBatch) send(ctx context.Context, tail string) error {
	if len(b.queued) == 0 && tail == "" {
		return nil
	}
	var read func(pgx.BatchResults) error
	if tail != "" {
		read = func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			if err == nil && tag.String() == "ROLLBACK" {
				err = errors.New("the transaction was rolled back")
			}
			return err
		}
	}
	return b.sendWith(ctx, tail, nil, read)
}

// sendWith sends the queued statements and then query, if any, in one
// round trip, and lets read take query's results from br once the queued
// statements succeeded; it returns the first error.
func (b *pgBatch) sendWith(ctx context.Context, query string, args []any, read func(br pgx.BatchResults) error) error {
	qs := b.queued
	b.queued = nil
	if hook := sentHook.Load(); hook != nil {
		(*hook)(qs, query)
	}
	return b.c.Raw(func(dc any) error {
		batch := &pgx.Batch{}
		for _, q := range qs {
			batch.Queue(q.query, q.args...)
		}
		if query != "" {
			batch.Queue(query, args...)
		}
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, batch)
		for range qs {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return err
			}
		}
		if read != nil {
			if err := read(br); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
}

// unsyncedConn takes SQLite's write connection and turns its sync at
// commit off (WriteUnsynced).
func (db *DB) unsyncedConn(ctx context.Context) (*sql.Conn, error) {
	c, err := db.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		db.resync(c)
		return nil, err
	}
	return c, nil
}

// resync restores the write connection's setting (sqliteSynchronous) and
// gives it back to the pool; if that fails, the connection is closed, so
// that no later write runs unsynced on it. Then statements first met in
// the transaction are prepared (stmtcache.go), as Write does.
func (db *DB) resync(c *sql.Conn) {
	restoreOrDiscard(c, "PRAGMA synchronous = "+sqliteSynchronous)
	_ = c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db.writeStmts.prepareDeferred(ctx)
}

// savepoint runs fn so that its failure undoes only fn's statements and
// leaves the transaction usable, as SQLite does for a failed statement.
// PostgreSQL otherwise aborts the whole transaction on any error, so a
// caller that handles ErrDuplicate and goes on would fail at commit.
func (tx *Tx) savepoint(ctx context.Context, fn func() error) error {
	if tx.d != Postgres {
		return fn()
	}
	if _, err := tx.exec(ctx, "SAVEPOINT portal_stmt"); err != nil {
		return err
	}
	err := fn()
	if err == nil { // what fn left to send fails here, inside the savepoint
		err = tx.flush(ctx)
	}
	if err != nil {
		if _, rbErr := tx.exec(ctx, "ROLLBACK TO SAVEPOINT portal_stmt"); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	_, err = tx.exec(ctx, "RELEASE SAVEPOINT portal_stmt")
	return err
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs statements on a pool or a transaction, rebinding placeholders
// and bounding each statement: by timeout from its start on a pool, by the
// deadline of the transaction in one (zero: no bound).
type conn struct {
	q        querier
	d        Dialect
	timeout  time.Duration
	deadline time.Time
	stmts    *stmtCache // SQLite: the pool's prepared statements (stmtcache.go); nil on PostgreSQL
	tx       *sql.Tx    // SQLite, in a transaction: the one q is, to run a cached statement in it
	later    *pgBatch   // PostgreSQL, in a transaction: statements waiting to be sent (execLater)
}

// bound gives ctx the store's bound, whose expiry has errTimeout as its
// cause.
func (c conn) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	switch {
	case !c.deadline.IsZero():
		return context.WithDeadlineCause(ctx, c.deadline, errTimeout)
	case c.timeout > 0:
		return context.WithTimeoutCause(ctx, c.timeout, errTimeout)
	}
	return ctx, func() {}
}

// timedOut marks err with errTimeout when the store's bound on ctx expired
// (and not the caller's own deadline or cancellation, which came first).
func timedOut(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) || errors.Is(err, errTimeout) || ctx.Err() == nil || context.Cause(ctx) != errTimeout {
		return err
	}
	return fmt.Errorf("%w: %w", errTimeout, err)
}

// execLater runs a statement whose only answer is its error. In a
// PostgreSQL transaction it waits to be sent with the next statement, or
// with the commit, in one round trip; its error is then that statement's
// or the commit's. Elsewhere it runs at once. For statements whose error
// only ends the transaction (an insert of a fresh row, an update of
// counters); never for one whose caller handles an error and goes on.
func (c conn) execLater(ctx context.Context, query string, args ...any) error {
	if c.later == nil {
		_, err := c.exec(ctx, query, args...)
		return err
	}
	c.later.queue(rebind(Postgres, query), args)
	return nil
}

// pending tells whether statements wait to be sent (execLater, and a
// PostgreSQL transaction's BEGIN): exec, query and queryRow then send them with
// their own statement, in one round trip.
func (c conn) pending() bool { return c.later != nil && len(c.later.queued) > 0 }

// flush sends the statements execLater left waiting.
func (c conn) flush(ctx context.Context) error {
	if c.later == nil {
		return nil
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return timedOut(ctx, mapErr(c.later.send(ctx, "")))
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if c.pending() { // with what waits to be sent, in one round trip
		var n int64
		err := c.later.sendWith(ctx, rebind(Postgres, query), args, func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return nil, timedOut(ctx, mapErr(err))
		}
		return driver.RowsAffected(n), nil
	}
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, timedOut(ctx, mapErr(err))
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = c.q.ExecContext(ctx, rebind(c.d, query), args...)
	}
	return res, timedOut(ctx, mapErr(err))
}

// execOne runs a statement that must affect exactly one row; zero rows is
// reported as notFound.
func (c conn) execOne(ctx context.Context, notFound error, query string, args ...any) error {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// rows are the rows of a query; Close ends the statement's bound.
type rows struct {
	*sql.Rows // nil when batched
	ctx       context.Context
	cancel    context.CancelFunc
	batched   *batchedRows
}

// batchedRows are the rows of a query sent in a batch (pgBatch.sendWith),
// read whole before the batch's end, as PostgreSQL sent them; Scan decodes
// them with the connection's types.
type batchedRows struct {
	c      *sql.Conn
	fields []pgconn.FieldDescription
	values [][][]byte // per row, per column; nil for NULL
	next   int        // the row Next moves to
}

func (r *rows) Close() error {
	defer r.cancel()
	if r.batched != nil {
		return nil
	}
	return r.Rows.Close()
}

func (r *rows) Next() bool {
	if b := r.batched; b != nil {
		b.next++
		return b.next <= len(b.values)
	}
	return r.Rows.Next()
}

func (r *rows) Err() error {
	if r.batched != nil {
		return nil // the query's errors came with it
	}
	return timedOut(r.ctx, r.Rows.Err())
}

func (r *rows) Scan(dest ...any) error {
	b := r.batched
	if b == nil {
		return timedOut(r.ctx, r.Rows.Scan(dest...))
	}
	if b.next < 1 || b.next > len(b.values) {
		return errors.New("store: Scan without a row (Next)")
	}
	return b.c.Raw(func(dc any) error {
		return pgx.ScanRow(dc.(*stdlib.Conn).Conn().TypeMap(), b.fields, b.values[b.next-1], dest...)
	})
}

func (c conn) query(ctx context.Context, query string, args ...any) (*rows, error) {
	if c.pending() { // with what waits, in one round trip
		ctx, cancel := c.bound(ctx)
		b := &batchedRows{c: c.later.c}
		err := c.later.sendWith(ctx, rebind(Postgres, query), args, func(br pgx.BatchResults) error {
			rs, err := br.Query()
			if err != nil {
				return err
			}
			defer rs.Close()
			b.fields = slices.Clone(rs.FieldDescriptions())
			for rs.Next() {
				raw := rs.RawValues() // reused by the next row: copied
				vals := make([][]byte, len(raw))
				for i, v := range raw {
					vals[i] = slices.Clone(v) // nil stays nil (NULL)
				}
				b.values = append(b.values, vals)
			}
			return rs.Err()
		})
		if err != nil {
			cancel()
			return nil, timedOut(ctx, mapErr(err))
		}
		return &rows{ctx: ctx, cancel: cancel, batched: b}, nil
	}
	ctx, cancel := c.bound(ctx)
	st, err := c.prepared(ctx, query)
	var rs *sql.Rows
	switch {
	case err != nil:
	case st != nil:
		rs, err = st.QueryContext(ctx, args...)
	default:
		rs, err = c.q.QueryContext(ctx, rebind(c.d, query), args...)
	}
	if err != nil {
		err = timedOut(ctx, err)
		cancel()
		return nil, err
	}
	return &rows{Rows: rs, ctx: ctx, cancel: cancel}, nil
}

// row is the one row of a query; Scan ends the statement's bound.
type row struct {
	*sql.Row
	err    error // the statement could not be prepared: Scan and Err return it
	ctx    context.Context
	cancel context.CancelFunc
	// scan, when set, runs the query with the statements that waited to be
	// sent before it, in one round trip, and scans its row (queryRow).
	scan func(dest ...any) error
}

func (r *row) Scan(dest ...any) error {
	defer r.cancel()
	switch {
	case r.err != nil:
		return timedOut(r.ctx, r.err)
	case r.scan != nil:
		return timedOut(r.ctx, r.scan(dest...))
	}
	return timedOut(r.ctx, r.Row.Scan(dest...))
}

func (r *row) Err() error {
	switch {
	case r.err != nil:
		return timedOut(r.ctx, r.err)
	case r.scan != nil:
		return nil // the query runs with Scan, which returns its error
	}
	return timedOut(r.ctx, r.Row.Err())
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *row {
	if c.pending() {
		// Sent with what waits when the caller scans the row, the moment it
		// gives the destinations (every caller scans at once). Until then
		// what waits stays queued: a row never scanned loses nothing.
		ctx, cancel := c.bound(ctx)
		later, q := c.later, rebind(Postgres, query)
		return &row{ctx: ctx, cancel: cancel, scan: func(dest ...any) error {
			return mapErr(later.sendWith(ctx, q, args, func(br pgx.BatchResults) error {
				return br.QueryRow().Scan(dest...)
			}))
		}}
	}
	ctx, cancel := c.bound(ctx)
	if st, err := c.prepared(ctx, query); err != nil {
		return &row{err: mapErr(err), ctx: ctx, cancel: cancel}
	} else if st != nil {
		return &row{Row: st.QueryRowContext(ctx, args...), ctx: ctx, cancel: cancel}
	}
	return &row{Row: c.q.QueryRowContext(ctx, rebind(c.d, query), args...), ctx: ctx, cancel: cancel}
}

// rebind turns ? placeholders into $1, $2… for PostgreSQL. Our SQL never
// has a ? inside a string literal.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ErrDuplicate is returned when a unique constraint refuses a row.
var ErrDuplicate = errors.New("store: duplicate")

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrDuplicate, pgErr.ConstraintName)
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", ErrDuplicate, err)
		}
	}
	return err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notFound(what string) error { return portal.Errorf(portal.ENOTFOUND, "%s not found", what) }

// Exec runs a statement outside any transaction on the write pool (for
// administration such as test schemas).
func (db *DB) Exec(ctx context.Context, query string) error {
	_, err := db.write.ExecContext(ctx, query)
	return err
}

// wrap gives the error of a store method the context a log needs to place
// it ("store: GetUser(<id>): <the database's error>"), once, where the
// database's error enters. The store's answers, which callers branch on,
// are returned as they are: errors meant for the client (*portal.Error,
// say not found) and the sentinels (ErrDuplicate, ErrTokenSpent,
// ErrPasswordChanged, ErrCodeUsed, ErrTwoFactorActive). errors.Is
// (sql.ErrNoRows, context.Canceled…) and errors.As see through the
// wrapping. Used as defer wrap(&err, "Name(%s)", id).
func wrap(errp *error, format string, args ...any) {
	derrors.Wrap(errp, storeAnswers, "store: "+format, args...)
	*errp = classify(*errp)
}

var storeAnswers = []error{ErrDuplicate, ErrTokenSpent, ErrPasswordChanged, ErrCodeUsed, ErrTwoFactorActive}
