package store

import "context"

// OutboxBodies reads a message's stored bodies (for tests).
func OutboxBodies(ctx context.Context, db *DB, id string) (text, html string, err error) {
	err = db.write.QueryRowContext(ctx, rebind(db.dialect, `SELECT body_text, body_html FROM outbox WHERE id = ?`), id).Scan(&text, &html)
	return text, html, err
}
