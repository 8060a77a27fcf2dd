package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Bulk loading builds large databases for measurements (cmd/portal-bench
// -users 1000000): many rows into tables that nothing else writes
// meanwhile, as fast as the database takes them. It is not for the
// service: no audit entry, no check beyond the schema's.

// RowSource yields the rows of a bulk load, each with a value per column
// (Go types as the store passes them: string, int64, bool, nil). It has the
// shape of pgx.CopyFromSource.
type RowSource interface {
	Next() bool
	Values() ([]any, error)
	Err() error
}

// bulkTxRows is how many rows one SQLite transaction of a bulk load
// holds: few commits, and a write-ahead log that stays small.
const bulkTxRows = 100_000

// BulkInsert inserts every row of src into cols of table and returns how
// many it inserted. PostgreSQL: one COPY FROM STDIN (pgx CopyFrom), all or
// nothing. SQLite: multi-row INSERTs of one prepared statement on the
// write connection, committed every bulkTxRows rows (a failure keeps the
// transactions committed before it). Several loads may run at once on
// PostgreSQL; SQLite runs them one after the other on its one write
// connection.
func (db *DB) BulkInsert(ctx context.Context, table string, cols []string, src RowSource) (n int64, err error) {
	defer wrap(&err, "BulkInsert(%s)", table)
	err = db.bulkConn(ctx, func(c *sql.Conn) error {
		if db.dialect == Postgres {
			return c.Raw(func(dc any) error {
				n, err = dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src)
				return err
			})
		}
		n, err = bulkSQLite(ctx, c, table, cols, src)
		return err
	})
	return n, err
}

// bulkConn runs fn on a connection of the write pool set for bulk work:
// on PostgreSQL commits that do not wait for the disk (a crash loses the
// load, not the database's consistency) and 1 GiB to sort in for index
// builds; on SQLite a page cache of 1 GiB. The connection gets its usual
// settings back afterwards.
func (db *DB) bulkConn(ctx context.Context, fn func(c *sql.Conn) error) error {
	c, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	set := []string{"PRAGMA cache_size = -1048576"}
	reset := []string{"PRAGMA cache_size = -2000"}
	if db.dialect == Postgres {
		set = []string{"SET synchronous_commit = off", "SET maintenance_work_mem = '1GB'"}
		reset = []string{"RESET synchronous_commit", "RESET maintenance_work_mem"}
	}
	for _, q := range set {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	defer func() {
		for _, q := range reset {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), q)
		}
	}()
	return fn(c)
}

// bulkSQLite inserts src's rows through c in statements of up to 32766
// parameters (SQLite's limit) and at most 500 rows.
func bulkSQLite(ctx context.Context, c *sql.Conn, table string, cols []string, src RowSource) (n int64, err error) {
	per := min(500, 32766/len(cols))
	one := "(" + qmarks(len(cols)) + ")"
	insert := func(rows int) string {
		return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Repeat(one+",", rows-1) + one
	}
	var (
		tx   *sql.Tx
		full *sql.Stmt
		args = make([]any, 0, per*len(cols))
		inTx int
	)
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if rows := len(args) / len(cols); rows == per {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insert(rows), args...)
		}
		args = args[:0]
		return mapErr(err)
	}
	commit := func() error {
		if err := flush(); err != nil {
			return err
		}
		full.Close()
		err := tx.Commit()
		tx, inTx = nil, 0
		return err
	}
	for src.Next() {
		if tx == nil {
			if tx, err = c.BeginTx(ctx, nil); err != nil {
				return n, err
			}
			if full, err = tx.PrepareContext(ctx, insert(per)); err != nil {
				return n, err
			}
		}
		v, err := src.Values()
		if err != nil {
			return n, err
		}
		if len(v) != len(cols) {
			return n, fmt.Errorf("a row of %d values for %d columns", len(v), len(cols))
		}
		args = append(args, v...)
		n++
		inTx++
		if len(args) == per*len(cols) {
			if err := flush(); err != nil {
				return n, err
			}
		}
		if inTx == bulkTxRows {
			if err := commit(); err != nil {
				return n, err
			}
		}
	}
	if err := src.Err(); err != nil {
		return n, err
	}
	if tx != nil {
		if err := commit(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// WithoutIndexes runs load with table stripped of its indexes, then
// builds them again as the schema had them, and returns the errors of
// both: building an index once, by sorting, is much faster than keeping it
// up to date row by row. The indexes of the primary key and of UNIQUE
// constraints go too on PostgreSQL when no foreign key refers to them:
// their rows are then checked when they are built again, and a duplicate
// fails that one (the table stays without it; the others are built).
// SQLite keeps those its constraints make. building is told each index
// before it is built.
func (db *DB) WithoutIndexes(ctx context.Context, table string, load func() error, building func(name string, i, n int)) (err error) {
	defer wrap(&err, "WithoutIndexes(%s)", table)
	type index struct{ name, drop, create string }
	var indexes []index
	q := `SELECT name, 'DROP INDEX ' || name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`
	args := []any{table}
	if db.dialect == Postgres {
		q = `SELECT c.conname, 'ALTER TABLE ' || quote_ident(?) || ' DROP CONSTRAINT ' || quote_ident(c.conname),
				'ALTER TABLE ' || quote_ident(?) || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid)
			FROM pg_constraint c WHERE c.conrelid = to_regclass(?) AND c.contype IN ('p', 'u')
				AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.confrelid = c.conrelid)
			UNION ALL
			SELECT indexname, 'DROP INDEX ' || quote_ident(indexname), indexdef FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = ?
				AND indexname NOT IN (SELECT conindid::regclass::text FROM pg_constraint WHERE conrelid = to_regclass(?))
			ORDER BY 1`
		args = []any{table, table, table, table, table}
	}
	rows, err := db.write.QueryContext(ctx, rebind(db.dialect, q), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.drop, &ix.create); err != nil {
			rows.Close()
			return err
		}
		indexes = append(indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := db.write.ExecContext(ctx, ix.drop); err != nil {
			return err
		}
	}
	errs := []error{load()}
	errs = append(errs, db.bulkConn(ctx, func(c *sql.Conn) error {
		for i, ix := range indexes {
			building(ix.name, i, len(indexes))
			if _, err := c.ExecContext(ctx, ix.create); err != nil {
				errs = append(errs, fmt.Errorf("build %s again: %w", ix.name, err))
			}
		}
		return nil
	}))
	return errors.Join(errs...)
}

// CountRows returns how many rows table has.
func (db *DB) CountRows(ctx context.Context, table string) (n int64, err error) {
	defer wrap(&err, "CountRows(%s)", table)
	err = db.write.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n)
	return n, err
}

// Analyze updates the planner's statistics after a bulk load (PostgreSQL:
// VACUUM ANALYZE, which also marks the pages all-visible for index-only
// scans), then writes the load's pages out (a checkpoint), so that a
// measurement made next does not share the disk with that write. The
// checkpoint is best effort: PostgreSQL allows it only to a superuser or a
// member of pg_checkpoint.
func (db *DB) Analyze(ctx context.Context) (err error) {
	defer wrap(&err, "Analyze")
	q, checkpoint := "ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"
	if db.dialect == Postgres {
		q, checkpoint = "VACUUM (ANALYZE)", "CHECKPOINT"
	}
	if _, err = db.write.ExecContext(ctx, q); err != nil {
		return err
	}
	_, _ = db.write.ExecContext(ctx, checkpoint)
	return nil
}

// TableScans is how a table was read: sequential scans and the rows they
// read, and index scans.
type TableScans struct {
	Seq, SeqRows, Index int64
}

// ScanCounts returns PostgreSQL's counts of the scans of each table of the
// current schema since the statistics were last reset (they lag the
// queries by up to a second or so); nil on SQLite, which keeps none.
func (db *DB) ScanCounts(ctx context.Context) (_ map[string]TableScans, err error) {
	defer wrap(&err, "ScanCounts")
	if db.dialect != Postgres {
		return nil, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT relname, COALESCE(seq_scan, 0), COALESCE(seq_tup_read, 0), COALESCE(idx_scan, 0)
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]TableScans{}
	for rows.Next() {
		var name string
		var s TableScans
		if err := rows.Scan(&name, &s.Seq, &s.SeqRows, &s.Index); err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, rows.Err()
}
