package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Invitation states (invites.status).
const (
	InvitePending   = "pending" // open: waiting for its link (expired or not)
	InviteAccepted  = "accepted"
	InviteDeclined  = "declined"
	InviteCancelled = "cancelled"
)

// SiteRef is a site by id, with its name when read.
type SiteRef struct {
	ID   string
	Name string
}

// Invite is an invitation to join an organization with one role, on the
// whole organization (Scope "org") or on some of its sites (Scope "site").
// Only the hash of its link token is stored.
type Invite struct {
	ID            string
	OrgID         string
	OrgName       string // filled on read
	Email         string
	FirstName     string
	LastName      string
	Scope         string
	Role          string
	Sites         []SiteRef // the sites of a site-scoped invitation, by name
	TokenHash     string
	InvitedBy     string // user id
	InvitedByName string
	Hours         int // validity asked for
	Created       time.Time
	Modified      time.Time // when last sent
	Expires       time.Time
	Status        string
	Closed        time.Time // when accepted, declined or cancelled
	ClosedBy      string    // user id of who did it ("" when unknown)
}

const inviteCols = `i.id, i.org_id, o.name, i.email, i.first_name, i.last_name, i.scope, i.role, i.token_hash, i.invited_by, i.invited_by_name,
	i.hours, i.created_at, i.modified_at, i.expires_at, i.status, i.closed_at, i.closed_by`

const inviteFrom = ` FROM invites i JOIN orgs o ON o.id = i.org_id`

func scanInvite(row interface{ Scan(...any) error }) (*Invite, error) {
	var inv Invite
	var created, modified, expires int64
	var closed sql.NullInt64
	if err := row.Scan(&inv.ID, &inv.OrgID, &inv.OrgName, &inv.Email, &inv.FirstName, &inv.LastName, &inv.Scope, &inv.Role, &inv.TokenHash,
		&inv.InvitedBy, &inv.InvitedByName, &inv.Hours, &created, &modified, &expires, &inv.Status, &closed, &inv.ClosedBy); err != nil {
		return nil, err
	}
	inv.Created, inv.Modified, inv.Expires, inv.Closed = fromMS(created), fromMS(modified), fromMS(expires), fromMS(closed.Int64)
	return &inv, nil
}

// CreateInvite stores an open invitation with its sites. An open
// invitation of the same organization and address gives ErrDuplicate.
func (tx *Tx) CreateInvite(ctx context.Context, inv *Invite) (err error) {
	defer wrap(&err, "CreateInvite")
	if inv.Status == "" {
		inv.Status = InvitePending
	}
	_, err = tx.exec(ctx, `INSERT INTO invites (id, org_id, email, email_lower, first_name, last_name, scope, role, token_hash, invited_by, invited_by_name,
		hours, created_at, modified_at, expires_at, status, closed_at, closed_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		inv.ID, inv.OrgID, inv.Email, EmailKey(inv.Email), inv.FirstName, inv.LastName, inv.Scope, inv.Role, inv.TokenHash, inv.InvitedBy, inv.InvitedByName,
		inv.Hours, ms(inv.Created), ms(inv.Modified), ms(inv.Expires), inv.Status, nil, "")
	if err != nil {
		return err
	}
	return tx.insertInviteSites(ctx, inv)
}

func (tx *Tx) insertInviteSites(ctx context.Context, inv *Invite) error {
	for _, s := range inv.Sites {
		if _, err := tx.exec(ctx, `INSERT INTO invite_sites (invite_id, site_id) VALUES (?,?)`, inv.ID, s.ID); err != nil {
			return err
		}
	}
	return nil
}

// RenewInvite rewrites an open invitation (names, role, sites, inviter) with
// a new link token and expiry: the previous link stops working. A closed
// invitation gives ErrTokenSpent.
func (tx *Tx) RenewInvite(ctx context.Context, inv *Invite) (err error) {
	defer wrap(&err, "RenewInvite")
	err = tx.execOne(ctx, ErrTokenSpent, `UPDATE invites SET first_name = ?, last_name = ?, scope = ?, role = ?, token_hash = ?, invited_by = ?, invited_by_name = ?,
		hours = ?, modified_at = ?, expires_at = ? WHERE id = ? AND status = ?`,
		inv.FirstName, inv.LastName, inv.Scope, inv.Role, inv.TokenHash, inv.InvitedBy, inv.InvitedByName,
		inv.Hours, ms(inv.Modified), ms(inv.Expires), inv.ID, InvitePending)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `DELETE FROM invite_sites WHERE invite_id = ?`, inv.ID); err != nil {
		return err
	}
	return tx.insertInviteSites(ctx, inv)
}

// CloseInvite accepts, declines or cancels an open invitation (status is
// the new state), only if it is still open, still has the link tokenHash
// (unless tokenHash is "") and, when unexpired is set, is not expired at
// now: of two concurrent uses exactly one succeeds, and a link replaced
// meanwhile no longer counts. Otherwise it returns ErrTokenSpent.
func (tx *Tx) CloseInvite(ctx context.Context, id, tokenHash, status, by string, now time.Time, unexpired bool) (err error) {
	defer wrap(&err, "CloseInvite(%s)", id)
	q := `UPDATE invites SET status = ?, closed_at = ?, closed_by = ? WHERE id = ? AND status = ?`
	args := []any{status, ms(now), by, id, InvitePending}
	if tokenHash != "" {
		q += ` AND token_hash = ?`
		args = append(args, tokenHash)
	}
	if unexpired {
		q += ` AND expires_at > ?`
		args = append(args, ms(now))
	}
	return tx.execOne(ctx, ErrTokenSpent, q, args...)
}

// GetInvite returns an invitation by id, with its sites.
func (c conn) GetInvite(ctx context.Context, id string) (_ *Invite, err error) {
	defer wrap(&err, "GetInvite(%s)", id)
	return c.oneInvite(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.id = ?`, id)
}

// GetInviteByToken finds an invitation by the hash of its link token.
func (c conn) GetInviteByToken(ctx context.Context, tokenHash string) (_ *Invite, err error) {
	defer wrap(&err, "GetInviteByToken")
	return c.oneInvite(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.token_hash = ?`, tokenHash)
}

// OpenInvite returns the open invitation of an address to an organization
// (case-insensitively), or a not-found error.
func (c conn) OpenInvite(ctx context.Context, orgID, email string) (_ *Invite, err error) {
	defer wrap(&err, "OpenInvite(%s)", orgID)
	return c.oneInvite(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.org_id = ? AND i.email_lower = ? AND i.status = ?`,
		orgID, EmailKey(email), InvitePending)
}

func (c conn) oneInvite(ctx context.Context, query string, args ...any) (*Invite, error) {
	inv, err := scanInvite(c.queryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("invitation")
	}
	if err != nil {
		return nil, err
	}
	if err := c.fillInviteSites(ctx, []*Invite{inv}); err != nil {
		return nil, err
	}
	return inv, nil
}

// ListOpenInvites returns an organization's open invitations (expired or
// not), oldest first, with their sites.
func (c conn) ListOpenInvites(ctx context.Context, orgID string) (_ []*Invite, err error) {
	defer wrap(&err, "ListOpenInvites(%s)", orgID)
	return c.listInvites(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.org_id = ? AND i.status = ? ORDER BY i.created_at, i.id`, orgID, InvitePending)
}

// ListOpenInvitesFor returns the open invitations addressed to an address
// (case-insensitively, expired or not), oldest first, with their sites.
func (c conn) ListOpenInvitesFor(ctx context.Context, email string) (_ []*Invite, err error) {
	defer wrap(&err, "ListOpenInvitesFor")
	return c.listInvites(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.email_lower = ? AND i.status = ? ORDER BY i.created_at, i.id`, EmailKey(email), InvitePending)
}

func (c conn) listInvites(ctx context.Context, query string, args ...any) ([]*Invite, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []*Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, inv)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, c.fillInviteSites(ctx, out)
}

// fillInviteSites reads the sites of the invitations, ordered by name.
func (c conn) fillInviteSites(ctx context.Context, invs []*Invite) error {
	if len(invs) == 0 {
		return nil
	}
	byID := make(map[string]*Invite, len(invs))
	ids := make([]any, 0, len(invs))
	for _, inv := range invs {
		inv.Sites = nil
		byID[inv.ID] = inv
		ids = append(ids, inv.ID)
	}
	rows, err := c.query(ctx, `SELECT x.invite_id, s.id, s.name FROM invite_sites x JOIN sites s ON s.id = x.site_id
		WHERE x.invite_id IN (`+qmarks(len(ids))+`) ORDER BY s.name, s.id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var inviteID string
		var s SiteRef
		if err := rows.Scan(&inviteID, &s.ID, &s.Name); err != nil {
			return err
		}
		if inv := byID[inviteID]; inv != nil {
			inv.Sites = append(inv.Sites, s)
		}
	}
	return rows.Err()
}

// qmarks returns "?,?,…" with n marks.
func qmarks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
