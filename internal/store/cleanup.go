package store

import (
	"context"
	"time"
)

// UnsubscribeLinkLifetime is how long a notification mail's one-click
// unsubscribe link works.
const UnsubscribeLinkLifetime = 90 * 24 * time.Hour

// Purge deletes what is no longer needed: expired sessions, old rate-limit
// counters, spent or expired link tokens, and sent or failed mail, answered or
// cancelled invitations and notifications given to a digest older than keep;
// unsubscribe links after UnsubscribeLinkLifetime; the rows of auth_changes
// of all but the last AuthChangesKept values of auth_epoch.
// It is idempotent, so several instances may run it at once.
func (tx *Tx) Purge(ctx context.Context, now time.Time, keep time.Duration) (_ int64, err error) {
	defer wrap(&err, "Purge")
	old := ms(now.Add(-keep))
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM sessions WHERE expires_at < ?`, []any{ms(now)}},
		{`DELETE FROM rate_limits WHERE window_start < ? AND locked_until < ?`, []any{old, ms(now)}},
		{`DELETE FROM email_tokens WHERE expires_at < ? OR (used_at IS NOT NULL AND used_at < ?)`, []any{old, old}},
		{`DELETE FROM registrations WHERE expires_at < ? OR (used_at IS NOT NULL AND used_at < ?)`, []any{old, old}},
		{`DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?) OR (failed_at IS NOT NULL AND failed_at < ?)`, []any{old, old}},
		{`DELETE FROM invites WHERE status <> 'pending' AND closed_at < ?`, []any{old}},     // answered or cancelled invitations
		{`DELETE FROM notifications WHERE sent_at IS NOT NULL AND sent_at < ?`, []any{old}}, // notifications given to a digest
		{`DELETE FROM unsubscribe_tokens WHERE created_at < ?`, []any{ms(now.Add(-UnsubscribeLinkLifetime))}},
		{`DELETE FROM auth_changes WHERE epoch <= (SELECT n FROM auth_epoch WHERE id = 1) - ?`, []any{AuthChangesKept}},
	} {
		res, err := tx.exec(ctx, q.sql, q.args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
