package store

import (
	"cmp"
	"context"
	"slices"
	"time"

	"portal"
)

// EnqueueMail adds a message to the outbox, in the transaction of the change that causes it.
func (tx *Tx) EnqueueMail(ctx context.Context, m *portal.OutboxMessage) (err error) {
	defer wrap(&err, "EnqueueMail")
	_, err = tx.exec(ctx, `INSERT INTO outbox (id, to_addr, subject, body_text, body_html, created_at, next_attempt_at, list_unsubscribe) VALUES (?,?,?,?,?,?,?,?)`,
		m.ID, m.To, m.Subject, m.Text, m.HTML, ms(m.CreatedTime), ms(m.CreatedTime), m.ListUnsubscribe)
	return err
}

// Outbox adapts the database to the mail worker. Instance names the
// process in the leases it takes (PORTAL_INSTANCE_ID): a process that
// restarts under the same name takes its earlier claims back at once
// (TakeBack). Two processes running at the same time must not share it.
type Outbox struct {
	DB       *DB
	Instance string
}

// claimSQL leases a batch in one statement. On PostgreSQL, SKIP LOCKED
// lets instances claiming at the same moment take different messages
// instead of queueing behind each other's row locks; SQLite has one
// writer at a time, so the statement is atomic as it is.
var claimSQL = map[Dialect]string{
	SQLite: `UPDATE outbox SET locked_until = ?, lease_owner = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND locked_until <= ? ORDER BY next_attempt_at, created_at LIMIT ?)
		RETURNING id, to_addr, subject, body_text, body_html, attempts, created_at, next_attempt_at, list_unsubscribe`,
	Postgres: `UPDATE outbox SET locked_until = ?, lease_owner = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND locked_until <= ? ORDER BY next_attempt_at, created_at LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING id, to_addr, subject, body_text, body_html, attempts, created_at, next_attempt_at, list_unsubscribe`,
}

// ClaimDue leases up to limit due messages, oldest due first, in one
// statement: when several instances share the database only one of them
// claims a given message; an expired lease (a crashed sender) is claimed
// again.
func (o Outbox) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []portal.OutboxMessage, err error) {
	defer wrap(&err, "ClaimDue")
	type claimed struct {
		m       portal.OutboxMessage
		created int64
		due     int64
	}
	var got []claimed
	err = o.DB.Write(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, claimSQL[o.DB.dialect], ms(now.Add(lease)), o.Instance, ms(now), ms(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.m.ID, &c.m.To, &c.m.Subject, &c.m.Text, &c.m.HTML, &c.m.Attempts, &c.created, &c.due, &c.m.ListUnsubscribe); err != nil {
				return err
			}
			got = append(got, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING keeps no order.
	slices.SortFunc(got, func(a, b claimed) int {
		return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.created, b.created), cmp.Compare(a.m.ID, b.m.ID))
	})
	out := make([]portal.OutboxMessage, len(got))
	for i, c := range got {
		c.m.CreatedTime = fromMS(c.created)
		out[i] = c.m
	}
	return out, nil
}

// TakeBack makes the messages leased in o.Instance's name due at once: the
// claims of an earlier process of this instance that did not finish them
// (it crashed). Their attempts stay counted. Without an instance name it
// does nothing.
func (o Outbox) TakeBack(ctx context.Context, now time.Time) (_ int, err error) {
	defer wrap(&err, "TakeBack(%s)", o.Instance)
	if o.Instance == "" {
		return 0, nil
	}
	var n int64
	err = o.DB.Write(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE outbox SET locked_until = 0 WHERE lease_owner = ? AND sent_at IS NULL AND failed_at IS NULL AND locked_until > ?`, o.Instance, ms(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

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

// MarkFailed releases a message for another attempt at nextAttempt; the
// attempt its claim counted stays counted.
func (o Outbox) MarkFailed(ctx context.Context, id string, nextAttempt time.Time, lastError string) (err error) {
	defer wrap(&err, "MarkFailed(%s)", id)
	return o.DB.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, locked_until = 0, last_error = ? WHERE id = ? AND sent_at IS NULL`, ms(nextAttempt), lastError, id)
		return err
	})
}

// Release releases a message for another attempt at nextAttempt and takes
// back the attempt its claim counted: it was not tried, or failed through
// no fault of its own (the SMTP server was away).
func (o Outbox) Release(ctx context.Context, id string, nextAttempt time.Time, lastError string) (err error) {
	defer wrap(&err, "Release(%s)", id)
	return o.DB.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, locked_until = 0, last_error = ?, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = ? AND sent_at IS NULL`,
			ms(nextAttempt), lastError, id)
		return err
	})
}

// GiveUp records that a message failed for good: it is never tried again,
// and its bodies (live links) are cleared as for a sent one.
func (o Outbox) GiveUp(ctx context.Context, id string, now time.Time, lastError string) (err error) {
	defer wrap(&err, "GiveUp(%s)", id)
	return o.DB.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET failed_at = ?, locked_until = 0, last_error = ?, body_text = '', body_html = '' WHERE id = ? AND sent_at IS NULL`, ms(now), lastError, id)
		return err
	})
}

// PendingMail counts messages not yet sent and not failed for good (for
// tests and readiness).
func (c conn) PendingMail(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "PendingMail")
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL`).Scan(&n)
	return n, err
}

// MailQueue reports the messages waiting to be sent (not sent, not failed
// for good) and when the oldest of them was queued (zero when none), for
// /metrics.
func (c conn) MailQueue(ctx context.Context) (depth int, oldest time.Time, err error) {
	defer wrap(&err, "MailQueue")
	var min *int64
	err = c.queryRow(ctx, `SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL`).Scan(&depth, &min)
	if err != nil {
		return 0, time.Time{}, err
	}
	if min != nil {
		oldest = fromMS(*min)
	}
	return depth, oldest, nil
}
