package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"portal"
)

// Membership is one organization of a user, as account deletion weighs it.
type Membership struct {
	OrgID           string
	OrgName         string
	SuperUser       bool // the user is a Super User of the whole organization
	OtherMembers    int  // other users with a privilege in the organization
	OtherSuperUsers int  // other Super Users of the whole organization
}

// UserMemberships returns the organizations in which the user has a
// privilege, by name, with what deleting the account would leave behind.
func (c conn) UserMemberships(ctx context.Context, userID string) (_ []*Membership, err error) {
	defer wrap(&err, "UserMemberships(%s)", userID)
	rows, err := c.query(ctx, `SELECT o.id, o.name,
		CASE WHEN EXISTS (SELECT 1 FROM privileges p WHERE p.org_id = o.id AND p.user_id = ? AND p.scope = ? AND p.role = ?) THEN 1 ELSE 0 END,
		(SELECT COUNT(DISTINCT p.user_id) FROM privileges p WHERE p.org_id = o.id AND p.user_id <> ?),
		(SELECT COUNT(DISTINCT p.user_id) FROM privileges p WHERE p.org_id = o.id AND p.user_id <> ? AND p.scope = ? AND p.role = ?)
		FROM orgs o WHERE o.id IN (SELECT org_id FROM privileges WHERE user_id = ?) ORDER BY o.name, o.id`,
		userID, portal.ScopeOrg, portal.RoleAdmin, userID, userID, portal.ScopeOrg, portal.RoleAdmin, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Membership
	for rows.Next() {
		var m Membership
		var su int
		if err := rows.Scan(&m.OrgID, &m.OrgName, &su, &m.OtherMembers, &m.OtherSuperUsers); err != nil {
			return nil, err
		}
		m.SuperUser = su == 1
		out = append(out, &m)
	}
	return out, rows.Err()
}

// DeleteUser deletes a user's account: the user's row, and with it (ON
// DELETE CASCADE) sessions, API tokens, e-mail links, privileges, password
// history, second factor, recovery codes, login failures, linked sign-ins,
// survey state and operator standing; the user's survey answers lose their
// user and comment. Invitations to the address (they hold it and a name) are
// deleted and pending sign-ups closed, so no link mailed to it still works. The audit entries
// of the user's activity stay, under the name they carry, until purgeAt
// (deleted_users, PurgeDeletedUsersAudit). It returns how many open
// invitations were deleted.
func (tx *Tx) DeleteUser(ctx context.Context, u *portal.User, now, purgeAt time.Time) (_ int64, err error) {
	defer wrap(&err, "DeleteUser(%s)", u.ID)
	var invites int64
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM invites WHERE email_lower = ? AND status = ?`, EmailKey(u.Email), InvitePending).Scan(&invites); err != nil {
		return 0, err
	}
	if _, err := tx.exec(ctx, `DELETE FROM invites WHERE email_lower = ?`, EmailKey(u.Email)); err != nil {
		return 0, err
	}
	if _, err := tx.exec(ctx, `UPDATE registrations SET used_at = ? WHERE email_lower = ? AND used_at IS NULL`, ms(now), EmailKey(u.Email)); err != nil {
		return 0, err
	}
	// The survey's answers stay in its results, anonymous: without the
	// user and without the comment, which may say who wrote it.
	if _, err := tx.exec(ctx, `UPDATE survey_answers SET user_id = NULL, comment = '' WHERE user_id = ?`, u.ID); err != nil {
		return 0, err
	}
	if err := tx.execOne(ctx, notFound("user"), `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
		return 0, err
	}
	_, err = tx.exec(ctx, `INSERT INTO deleted_users (user_id, deleted_at, purge_at) VALUES (?,?,?)`, u.ID, ms(now), ms(purgeAt))
	return invites, err
}

// DeletedUser is when an account was deleted and when the audit entries
// of its activity are purged.
type DeletedUser struct {
	UserID  string
	Deleted time.Time
	PurgeAt time.Time
}

// GetDeletedUser returns the deletion record of a user id, or a not-found
// error.
func (c conn) GetDeletedUser(ctx context.Context, userID string) (_ *DeletedUser, err error) {
	defer wrap(&err, "GetDeletedUser(%s)", userID)
	var d DeletedUser
	var del, purge int64
	if err := c.queryRow(ctx, `SELECT user_id, deleted_at, purge_at FROM deleted_users WHERE user_id = ?`, userID).Scan(&d.UserID, &del, &purge); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("deleted user")
		}
		return nil, err
	}
	d.Deleted, d.PurgeAt = fromMS(del), fromMS(purge)
	return &d, nil
}
