package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Retention of audit entries and login failures. Each purge statement
// deletes at most batch rows, chosen by an index, so that it takes
// milliseconds however large the table: the caller runs one statement per
// short transaction until a batch comes back short, and requests go on in
// between.

const dayMS = int64(24 * time.Hour / time.Millisecond)

// PurgeDeletedUsersAudit deletes at most batch audit entries of users whose
// account was deleted and whose purge time (deleted_users.purge_at) is at
// or before now; once none is left, their deletion records go too.
func (tx *Tx) PurgeDeletedUsersAudit(ctx context.Context, now time.Time, batch int) (_ int64, err error) {
	defer wrap(&err, "PurgeDeletedUsersAudit")
	n, err := tx.affected(ctx, `DELETE FROM audit_logs WHERE id IN (SELECT a.id FROM deleted_users d JOIN audit_logs a ON a.admin_id = d.user_id
		WHERE d.purge_at <= ? LIMIT ?)`, ms(now), batch)
	if err != nil || n == int64(batch) {
		return n, err
	}
	_, err = tx.exec(ctx, `DELETE FROM deleted_users WHERE purge_at <= ? AND NOT EXISTS (SELECT 1 FROM audit_logs a WHERE a.admin_id = deleted_users.user_id)`, ms(now))
	return n, err
}

// PurgeOrgAudit deletes at most batch audit entries of organizations that
// are audit_retention_days old or older at now.
func (tx *Tx) PurgeOrgAudit(ctx context.Context, now time.Time, batch int) (_ int64, err error) {
	defer wrap(&err, "PurgeOrgAudit")
	return tx.affected(ctx, `DELETE FROM audit_logs WHERE id IN (SELECT a.id FROM orgs o JOIN audit_logs a ON a.org_id = o.id
		AND a.ts <= CAST(? AS BIGINT) - o.audit_retention_days * CAST(? AS BIGINT) LIMIT ?)`, ms(now), dayMS, batch)
}

// PurgeOtherAudit deletes at most batch audit entries from before or earlier
// that belong to no existing organization (a user's own entries, and those
// of deleted organizations).
func (tx *Tx) PurgeOtherAudit(ctx context.Context, before time.Time, batch int) (_ int64, err error) {
	defer wrap(&err, "PurgeOtherAudit")
	return tx.affected(ctx, `DELETE FROM audit_logs WHERE id IN (SELECT a.id FROM audit_logs a WHERE a.ts <= ?
		AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = a.org_id) LIMIT ?)`, ms(before), batch)
}

// PurgeLoginFailures deletes at most batch login failures older than before.
func (tx *Tx) PurgeLoginFailures(ctx context.Context, before time.Time, batch int) (_ int64, err error) {
	defer wrap(&err, "PurgeLoginFailures")
	return tx.affected(ctx, `DELETE FROM login_failures WHERE id IN (SELECT id FROM login_failures WHERE ts < ? LIMIT ?)`, ms(before), batch)
}

func (tx *Tx) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := tx.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ClaimLease takes the lease of a background job for holder until
// now+ttl, if nobody else holds it at now (or holder already does). Of
// several instances asking at once, one gets it.
func (db *DB) ClaimLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (_ bool, err error) {
	defer wrap(&err, "ClaimLease(%s)", name)
	var n int64
	err = db.Write(ctx, func(tx *Tx) error {
		n, err = tx.affected(ctx, `INSERT INTO job_leases (name, holder, until_at) VALUES (?,?,?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_at = excluded.until_at
			WHERE job_leases.until_at <= ? OR job_leases.holder = ?`, name, holder, ms(now.Add(ttl)), ms(now), holder)
		return err
	})
	return n == 1, err
}

// ReleaseLease gives the lease back, if holder still holds it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) (err error) {
	defer wrap(&err, "ReleaseLease(%s)", name)
	return db.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE job_leases SET until_at = 0 WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}

// GetOrgAuditRetention returns how many days an organization keeps its
// audit entries.
func (c conn) GetOrgAuditRetention(ctx context.Context, orgID string) (_ int, err error) {
	defer wrap(&err, "GetOrgAuditRetention(%s)", orgID)
	var days int
	if err := c.queryRow(ctx, `SELECT audit_retention_days FROM orgs WHERE id = ?`, orgID).Scan(&days); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, notFound("organization")
		}
		return 0, err
	}
	return days, nil
}

// SetOrgAuditRetention sets how many days an organization keeps its audit
// entries.
func (tx *Tx) SetOrgAuditRetention(ctx context.Context, orgID string, days int, now time.Time) (err error) {
	defer wrap(&err, "SetOrgAuditRetention(%s)", orgID)
	return tx.execOne(ctx, notFound("organization"), `UPDATE orgs SET audit_retention_days = ?, modified_at = ? WHERE id = ?`, days, ms(now), orgID)
}

// LoginFailure is one failed login on an existing account.
type LoginFailure struct {
	ID        string
	UserID    string
	Time      time.Time
	IP        string
	UserAgent string
	Reason    string
}

// InsertLoginFailure records a failed login.
func (tx *Tx) InsertLoginFailure(ctx context.Context, f *LoginFailure) (err error) {
	defer wrap(&err, "InsertLoginFailure")
	return tx.execLater(ctx, `INSERT INTO login_failures (id, user_id, ts, ip, user_agent, reason) VALUES (?,?,?,?,?,?)`,
		f.ID, f.UserID, ms(f.Time), f.IP, f.UserAgent, f.Reason)
}

// ListLoginFailures returns a user's failed logins since since, newest
// first, at most limit of them, and how many there are since then.
func (c conn) ListLoginFailures(ctx context.Context, userID string, since time.Time, limit int) (_ []*LoginFailure, _ int, err error) {
	defer wrap(&err, "ListLoginFailures(%s)", userID)
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM login_failures WHERE user_id = ? AND ts >= ?`, userID, ms(since)).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.query(ctx, `SELECT id, user_id, ts, ip, user_agent, reason FROM login_failures WHERE user_id = ? AND ts >= ?
		ORDER BY ts DESC, id LIMIT ?`, userID, ms(since), limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*LoginFailure
	for rows.Next() {
		var f LoginFailure
		var ts int64
		if err := rows.Scan(&f.ID, &f.UserID, &ts, &f.IP, &f.UserAgent, &f.Reason); err != nil {
			return nil, 0, err
		}
		f.Time = fromMS(ts)
		out = append(out, &f)
	}
	return out, total, rows.Err()
}
