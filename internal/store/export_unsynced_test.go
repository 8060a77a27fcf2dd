package store

import (
	"context"
	"fmt"
	"sync"
)

// TxString reads one value in tx (for tests), with a statement prepared
// for this read only: SQLite's PRAGMA statements keep the value they were
// prepared with, so a cached one would not see a later change.
func TxString(ctx context.Context, tx *Tx, q string) (v string, err error) {
	if err := tx.flush(ctx); err != nil {
		return "", err
	}
	err = tx.q.QueryRowContext(ctx, q).Scan(&v)
	return v, err
}

// RecordBatches records the batches PostgreSQL transactions send
// (execLater): each is its statements, the tail (COMMIT) last, until the
// returned function stops the recording and returns them.
func RecordBatches() (stop func() [][]string) {
	var mu sync.Mutex
	var got [][]string
	hook := func(queued []queuedStmt, tail string) {
		var b []string
		for _, q := range queued {
			b = append(b, fmt.Sprint(q.query, q.args))
		}
		if tail != "" {
			b = append(b, tail)
		}
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}
	sentHook.Store(&hook)
	return func() [][]string {
		sentHook.Store(nil)
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}
