package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a stmtCache: Portal's SQL is a fixed set of
// strings, a few hundred, but a query built from a variable number of
// placeholders must not grow the cache without end. A query past the bound
// runs unprepared, as it would without a cache.
const maxCachedStmts = 1000

// stmtCache keeps the prepared statements of one SQLite pool by their SQL.
// SQLite compiles a statement on every run otherwise: parsing and planning
// were the largest part of a short query's CPU in the SQLite profile of
// portal-bench, which a statement prepared once, then bound and reset,
// does not pay again. PostgreSQL needs none: pgx prepares and caches each
// connection's statements itself.
//
// database/sql prepares a cached statement on each connection of the pool
// the first time it runs there, and runs it in a transaction on the
// transaction's connection (Tx.StmtContext). SQLite prepares again by
// itself a statement whose tables a migration changed.
//
// The write pool has one connection, which a transaction holds: a
// statement first met in a transaction runs unprepared there and is
// prepared once the transaction has ended (prepareDeferred), since
// preparing it on the pool would wait for that very connection.
type stmtCache struct {
	db       *sql.DB
	mu       sync.Mutex
	m        map[string]*sql.Stmt
	deferred map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, deferred: map[string]bool{}}
}

// lookup returns the statement for query, or nil; room says whether the
// cache may take another.
func (c *stmtCache) lookup(query string) (st *sql.Stmt, room bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query], len(c.m)+len(c.deferred) < maxCachedStmts
}

// add prepares query on the pool and keeps it. The lock is not held while
// preparing, which waits for a connection of the pool.
func (c *stmtCache) add(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if had := c.m[query]; had != nil { // prepared meanwhile by another caller
		st.Close()
		return had, nil
	}
	c.m[query] = st
	return st, nil
}

// prepareLater notes a query met in a transaction, for prepareDeferred.
func (c *stmtCache) prepareLater(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[query] == nil && len(c.m)+len(c.deferred) < maxCachedStmts {
		c.deferred[query] = true
	}
}

// prepareDeferred prepares the queries noted by prepareLater. Call it with
// no transaction of the pool open. A query that fails to prepare is
// dropped: it keeps running unprepared, with its error, if any, reported
// where it runs.
func (c *stmtCache) prepareDeferred(ctx context.Context) {
	c.mu.Lock()
	if len(c.deferred) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.deferred))
	for q := range c.deferred {
		queries = append(queries, q)
	}
	clear(c.deferred)
	c.mu.Unlock()
	for _, q := range queries {
		_, _ = c.add(ctx, q)
	}
}

// prepared returns the cached statement for query to run on c (bound to
// c's transaction in one), or nil when the query is to run unprepared: no
// cache (PostgreSQL), a full cache, or a first meeting in a transaction.
func (c conn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	st, room := c.stmts.lookup(query)
	switch {
	case st != nil && c.tx != nil:
		return c.tx.StmtContext(ctx, st), nil
	case st != nil:
		return st, nil
	case !room:
		return nil, nil
	case c.tx != nil:
		c.stmts.prepareLater(query)
		return nil, nil
	}
	return c.stmts.add(ctx, query)
}
