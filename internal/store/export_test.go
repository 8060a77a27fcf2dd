package store

import (
	"context"
	"database/sql"
)

// Pools returns db's write and read pools (one pool, twice, on
// PostgreSQL).
func Pools(db *DB) (write, read *sql.DB) { return db.write, db.read }

// OutboxBodies reads a message's stored bodies (for tests).
func OutboxBodies(ctx context.Context, db *DB, id string) (text, html string, err error) {
	err = db.write.QueryRowContext(ctx, rebind(db.dialect, `SELECT body_text, body_html FROM outbox WHERE id = ?`), id).Scan(&text, &html)
	return text, html, err
}

// Columns returns the names of a table's columns, as the database has them.
func Columns(ctx context.Context, db *DB, table string) ([]string, error) {
	q := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	if db.dialect == Postgres {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	}
	rows, err := db.read.QueryContext(ctx, rebind(db.dialect, q), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// TxExec runs one statement in tx (for tests).
func TxExec(ctx context.Context, tx *Tx, q string) error {
	_, err := tx.exec(ctx, q)
	return err
}

// Strings returns the first column of a query's rows (for tests).
func Strings(ctx context.Context, db *DB, q string) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
