package store

import "context"

// IndexDefs returns the definitions of table's indexes by name (for
// tests): SQLite's for those its constraints make are empty.
func IndexDefs(ctx context.Context, db *DB, table string) (map[string]string, error) {
	q := `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`
	if db.dialect == Postgres {
		q = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?`
	}
	rows, err := db.write.QueryContext(ctx, rebind(db.dialect, q), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, err
		}
		out[name] = def
	}
	return out, rows.Err()
}
