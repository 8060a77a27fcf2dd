package store

import (
	"context"
	"time"

	"portal"
)

// EnqueueMail adds a message to the outbox, in the transaction of the change that causes it.
func (tx *Tx) EnqueueMail(ctx context.Context, m *portal.OutboxMessage) (err error) {
	defer wrap(&err, "EnqueueMail")
	_, err = tx.exec(ctx, `INSERT INTO outbox (id, to_addr, subject, body_text, body_html, created_at, next_attempt_at) VALUES (?,?,?,?,?,?,?)`,
		m.ID, m.To, m.Subject, m.Text, m.HTML, ms(m.CreatedTime), ms(m.CreatedTime))
	return err
}

// Outbox adapts the database to the mail worker.
type Outbox struct{ DB *DB }

// ClaimDue leases up to limit due messages. Each lease is one conditional
// UPDATE, so when several instances share the database only one of them
// claims a given message; an expired lease (a crashed sender) is claimed again.
func (o Outbox) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []portal.OutboxMessage, err error) {
	defer wrap(&err, "ClaimDue")
	rows, err := o.DB.write.QueryContext(ctx, rebind(o.DB.dialect, `SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? AND locked_until <= ? ORDER BY next_attempt_at LIMIT ?`), ms(now), ms(now), limit)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []portal.OutboxMessage
	for _, id := range ids {
		var m portal.OutboxMessage
		var created int64
		err := o.DB.Write(ctx, func(tx *Tx) error {
			if err := tx.execOne(ctx, errNotClaimed, `UPDATE outbox SET locked_until = ?, attempts = attempts + 1 WHERE id = ? AND sent_at IS NULL AND locked_until <= ?`, ms(now.Add(lease)), id, ms(now)); err != nil {
				return err
			}
			return tx.queryRow(ctx, `SELECT id, to_addr, subject, body_text, body_html, attempts, created_at FROM outbox WHERE id = ?`, id).
				Scan(&m.ID, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Attempts, &created)
		})
		if err == errNotClaimed {
			continue // another instance has it
		}
		if err != nil {
			return out, err
		}
		m.CreatedTime = fromMS(created)
		out = append(out, m)
	}
	return out, nil
}

var errNotClaimed = portal.Errorf(portal.ECONFLICT, "claimed elsewhere")

// MarkSent records a delivery and clears the bodies: they hold live
// single-use links, which should not outlive the delivery in the database
// (the row itself is kept a while for the record).
func (o Outbox) MarkSent(ctx context.Context, id string, now time.Time) (err error) {
	defer wrap(&err, "MarkSent(%s)", id)
	return o.DB.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET sent_at = ?, last_error = '', body_text = '', body_html = '' WHERE id = ?`, ms(now), id)
		return err
	})
}

func (o Outbox) MarkFailed(ctx context.Context, id string, nextAttempt time.Time, lastError string) (err error) {
	defer wrap(&err, "MarkFailed(%s)", id)
	return o.DB.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, locked_until = 0, last_error = ? WHERE id = ?`, ms(nextAttempt), lastError, id)
		return err
	})
}

// PendingMail counts messages not yet sent (for tests and readiness).
func (c conn) PendingMail(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "PendingMail")
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n)
	return n, err
}
