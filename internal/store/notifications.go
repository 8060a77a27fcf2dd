package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Subscription is a user's e-mail notifications for an organization
// (SiteID "": all of it) or one of its sites.
type Subscription struct {
	ID       string
	UserID   string
	OrgID    string
	SiteID   string
	Created  time.Time
	OrgName  string // filled by ListSubscriptions
	SiteName string // filled by ListSubscriptions
}

// Notification is one thing a subscribed user is to be told.
type Notification struct {
	ID             string
	UserID         string
	SubscriptionID string
	OrgID          string
	SiteID         string // "": the organization itself
	SiteName       string
	Kind           string // "org_change" or a device event type
	Severity       string
	Text           string
	MAC            string // the device's, for device events
	EventTime      time.Time
	Created        time.Time
	OrgName        string // filled by ClaimNotifications
}

// UnsubscribeToken is a one-click unsubscribe link's stored form.
type UnsubscribeToken struct {
	Hash            string
	UserID          string
	SubscriptionIDs []string
	Description     string // what the link turns off, for its page
	Created         time.Time
	Used            time.Time // zero: not used yet
}

// CreateSubscription adds a subscription; an existing one for the same
// user and organization (or site) is kept, and false returned.
func (tx *Tx) CreateSubscription(ctx context.Context, s *Subscription) (_ bool, err error) {
	defer wrap(&err, "CreateSubscription(%s)", s.UserID)
	n, err := tx.affected(ctx, `INSERT INTO subscriptions (id, user_id, org_id, site_id, created_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, s.OrgID, nullable(s.SiteID), ms(s.Created))
	return n == 1, err
}

// DeleteSubscription ends a user's subscription to an organization
// (siteID "") or a site, and reports whether there was one.
func (tx *Tx) DeleteSubscription(ctx context.Context, userID, orgID, siteID string) (_ bool, err error) {
	defer wrap(&err, "DeleteSubscription(%s, %s, %s)", userID, orgID, siteID)
	var n int64
	if siteID == "" {
		n, err = tx.affected(ctx, `DELETE FROM subscriptions WHERE user_id = ? AND org_id = ? AND site_id IS NULL`, userID, orgID)
	} else {
		n, err = tx.affected(ctx, `DELETE FROM subscriptions WHERE user_id = ? AND site_id = ?`, userID, siteID)
	}
	return n > 0, err
}

// DeleteSubscriptionsByID ends those of ids that are userID's, and returns
// how many there were.
func (tx *Tx) DeleteSubscriptionsByID(ctx context.Context, userID string, ids []string) (_ int64, err error) {
	defer wrap(&err, "DeleteSubscriptionsByID(%s)", userID)
	var total int64
	for _, id := range ids {
		n, err := tx.affected(ctx, `DELETE FROM subscriptions WHERE id = ? AND user_id = ?`, id, userID)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// ListSubscriptions returns a user's subscriptions with the names of their
// organizations and sites, by organization name, the organization's own
// first.
func (c conn) ListSubscriptions(ctx context.Context, userID string) (_ []*Subscription, err error) {
	defer wrap(&err, "ListSubscriptions(%s)", userID)
	rows, err := c.query(ctx, `SELECT s.id, s.user_id, s.org_id, s.site_id, s.created_at, o.name, COALESCE(t.name, '')
		FROM subscriptions s JOIN orgs o ON o.id = s.org_id LEFT JOIN sites t ON t.id = s.site_id
		WHERE s.user_id = ? ORDER BY o.name, s.org_id, s.site_id IS NOT NULL, t.name, s.site_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		var s Subscription
		var site sql.NullString
		var created int64
		if err := rows.Scan(&s.ID, &s.UserID, &s.OrgID, &site, &created, &s.OrgName, &s.SiteName); err != nil {
			return nil, err
		}
		s.SiteID, s.Created = site.String, fromMS(created)
		out = append(out, &s)
	}
	return out, rows.Err()
}

// Subscribers returns the subscriptions that a change of an organization
// (siteID "") or of one of its sites reaches: the organization's, and the
// site's.
func (c conn) Subscribers(ctx context.Context, orgID, siteID string) (_ []*Subscription, err error) {
	defer wrap(&err, "Subscribers(%s, %s)", orgID, siteID)
	rows, err := c.query(ctx, `SELECT id, user_id, org_id, site_id, created_at FROM subscriptions
		WHERE org_id = ? AND (site_id IS NULL OR site_id = ?) ORDER BY user_id, id`, orgID, siteID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		var s Subscription
		var site sql.NullString
		var created int64
		if err := rows.Scan(&s.ID, &s.UserID, &s.OrgID, &site, &created); err != nil {
			return nil, err
		}
		s.SiteID, s.Created = site.String, fromMS(created)
		out = append(out, &s)
	}
	return out, rows.Err()
}

// QueueNotification adds a notification for one subscribed user.
func (tx *Tx) QueueNotification(ctx context.Context, n *Notification) (err error) {
	defer wrap(&err, "QueueNotification(%s)", n.UserID)
	_, err = tx.exec(ctx, `INSERT INTO notifications (id, user_id, subscription_id, org_id, site_id, site_name, kind, severity, text, mac, event_at, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		n.ID, n.UserID, n.SubscriptionID, n.OrgID, n.SiteID, n.SiteName, n.Kind, n.Severity, n.Text, n.MAC, ms(n.EventTime), ms(n.Created))
	return err
}

// DueDigests returns the users with pending notifications that are due:
// the oldest was queued at or before due, or one is critical.
func (c conn) DueDigests(ctx context.Context, due time.Time, limit int) (_ []string, err error) {
	defer wrap(&err, "DueDigests")
	rows, err := c.query(ctx, `SELECT user_id FROM notifications WHERE digest_id IS NULL GROUP BY user_id
		HAVING MIN(created_at) <= ? OR MAX(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) = 1
		ORDER BY MIN(created_at) LIMIT ?`, ms(due), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ClaimNotifications gives every pending notification of a user to the
// digest digestID in one conditional UPDATE, and returns them in the order
// they happened. Of several instances claiming at once, each notification
// goes to one: the others find it claimed and get nothing.
func (tx *Tx) ClaimNotifications(ctx context.Context, userID, digestID string, now time.Time) (_ []*Notification, err error) {
	defer wrap(&err, "ClaimNotifications(%s)", userID)
	n, err := tx.affected(ctx, `UPDATE notifications SET digest_id = ?, sent_at = ? WHERE user_id = ? AND digest_id IS NULL`, digestID, ms(now), userID)
	if err != nil || n == 0 {
		return nil, err
	}
	rows, err := tx.query(ctx, `SELECT n.id, n.user_id, n.subscription_id, n.org_id, n.site_id, n.site_name, n.kind, n.severity, n.text, n.mac,
		n.event_at, n.created_at, o.name FROM notifications n JOIN orgs o ON o.id = n.org_id
		WHERE n.digest_id = ? ORDER BY n.event_at, n.created_at, n.id`, digestID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Notification
	for rows.Next() {
		var x Notification
		var at, created int64
		if err := rows.Scan(&x.ID, &x.UserID, &x.SubscriptionID, &x.OrgID, &x.SiteID, &x.SiteName, &x.Kind, &x.Severity, &x.Text, &x.MAC,
			&at, &created, &x.OrgName); err != nil {
			return nil, err
		}
		x.EventTime, x.Created = fromMS(at), fromMS(created)
		out = append(out, &x)
	}
	return out, rows.Err()
}

// PendingNotifications counts a user's notifications not yet in a digest.
func (c conn) PendingNotifications(ctx context.Context, userID string) (_ int, err error) {
	defer wrap(&err, "PendingNotifications(%s)", userID)
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND digest_id IS NULL`, userID).Scan(&n)
	return n, err
}

// InsertUnsubscribeToken stores a one-click unsubscribe link.
func (tx *Tx) InsertUnsubscribeToken(ctx context.Context, t *UnsubscribeToken) (err error) {
	defer wrap(&err, "InsertUnsubscribeToken")
	_, err = tx.exec(ctx, `INSERT INTO unsubscribe_tokens (token_hash, user_id, subscription_ids, description, created_at) VALUES (?,?,?,?,?)`,
		t.Hash, t.UserID, strings.Join(t.SubscriptionIDs, ","), t.Description, ms(t.Created))
	return err
}

// GetUnsubscribeToken returns the link of a token hash (not-found if none).
func (c conn) GetUnsubscribeToken(ctx context.Context, hash string) (_ *UnsubscribeToken, err error) {
	defer wrap(&err, "GetUnsubscribeToken")
	var t UnsubscribeToken
	var ids string
	var created int64
	var used sql.NullInt64
	err = c.queryRow(ctx, `SELECT token_hash, user_id, subscription_ids, description, created_at, used_at FROM unsubscribe_tokens WHERE token_hash = ?`, hash).
		Scan(&t.Hash, &t.UserID, &ids, &t.Description, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("unsubscribe link")
	}
	if err != nil {
		return nil, err
	}
	if ids != "" {
		t.SubscriptionIDs = strings.Split(ids, ",")
	}
	t.Created = fromMS(created)
	if used.Valid {
		t.Used = fromMS(used.Int64)
	}
	return &t, nil
}

// UseUnsubscribeToken records the first use of a link.
func (tx *Tx) UseUnsubscribeToken(ctx context.Context, hash string, now time.Time) (err error) {
	defer wrap(&err, "UseUnsubscribeToken")
	_, err = tx.exec(ctx, `UPDATE unsubscribe_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`, ms(now), hash)
	return err
}
