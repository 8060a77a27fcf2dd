package store

import "context"

// TxString reads one value in tx (for tests), with a statement prepared
// for this read only: SQLite's PRAGMA statements keep the value they were
// prepared with, so a cached one would not see a later change.
func TxString(ctx context.Context, tx *Tx, q string) (v string, err error) {
	err = tx.tx.QueryRowContext(ctx, q).Scan(&v)
	return v, err
}
