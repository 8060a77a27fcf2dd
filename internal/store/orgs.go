package store

import (
	"context"
	"database/sql"
	"errors"

	"portal"
)

const orgCols = `id, name, session_expiry, session_max_lifetime, created_at, modified_at`

func scanOrg(row interface{ Scan(...any) error }) (*portal.Org, error) {
	var o portal.Org
	var created, modified int64
	if err := row.Scan(&o.ID, &o.Name, &o.SessionExpiry, &o.SessionMaxLifetime, &created, &modified); err != nil {
		return nil, err
	}
	o.CreatedTime, o.ModifiedTime = fromMS(created), fromMS(modified)
	return &o, nil
}

// CreateOrg inserts an organization; a SessionMaxLifetime of 0 is stored
// (and set in o) as portal.DefaultSessionMaxLifetime.
func (tx *Tx) CreateOrg(ctx context.Context, o *portal.Org) error {
	if o.SessionMaxLifetime == 0 {
		o.SessionMaxLifetime = portal.DefaultSessionMaxLifetime
	}
	_, err := tx.exec(ctx, `INSERT INTO orgs (`+orgCols+`) VALUES (?,?,?,?,?,?)`, o.ID, o.Name, o.SessionExpiry, o.SessionMaxLifetime, ms(o.CreatedTime), ms(o.ModifiedTime))
	return err
}

func (c conn) GetOrg(ctx context.Context, id string) (*portal.Org, error) {
	o, err := scanOrg(c.queryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("organization")
	}
	return o, err
}

func (tx *Tx) UpdateOrg(ctx context.Context, o *portal.Org) error {
	return tx.execOne(ctx, notFound("organization"), `UPDATE orgs SET name = ?, session_expiry = ?, session_max_lifetime = ?, modified_at = ? WHERE id = ?`,
		o.Name, o.SessionExpiry, o.SessionMaxLifetime, ms(o.ModifiedTime), o.ID)
}

func (tx *Tx) DeleteOrg(ctx context.Context, id string) error {
	return tx.execOne(ctx, notFound("organization"), `DELETE FROM orgs WHERE id = ?`, id)
}

const siteCols = `id, org_id, name, timezone, country_code, address, notes, created_at, modified_at`

func scanSite(row interface{ Scan(...any) error }) (*portal.Site, error) {
	var s portal.Site
	var created, modified int64
	if err := row.Scan(&s.ID, &s.OrgID, &s.Name, &s.Timezone, &s.CountryCode, &s.Address, &s.Notes, &created, &modified); err != nil {
		return nil, err
	}
	s.CreatedTime, s.ModifiedTime = fromMS(created), fromMS(modified)
	return &s, nil
}

func (tx *Tx) CreateSite(ctx context.Context, s *portal.Site) error {
	_, err := tx.exec(ctx, `INSERT INTO sites (`+siteCols+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		s.ID, s.OrgID, s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, ms(s.CreatedTime), ms(s.ModifiedTime))
	return err
}

func (c conn) GetSite(ctx context.Context, id string) (*portal.Site, error) {
	s, err := scanSite(c.queryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("site")
	}
	return s, err
}

// ListSites returns one page of an organization's sites by name, and the total.
func (c conn) ListSites(ctx context.Context, orgID string, p portal.Page) ([]*portal.Site, int, error) {
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM sites WHERE org_id = ?`, orgID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.query(ctx, `SELECT `+siteCols+` FROM sites WHERE org_id = ? ORDER BY name, id LIMIT ? OFFSET ?`, orgID, p.Limit, (p.Page-1)*p.Limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*portal.Site
	for rows.Next() {
		s, err := scanSite(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, s)
	}
	return out, total, rows.Err()
}

func (tx *Tx) UpdateSite(ctx context.Context, s *portal.Site) error {
	return tx.execOne(ctx, notFound("site"), `UPDATE sites SET name = ?, timezone = ?, country_code = ?, address = ?, notes = ?, modified_at = ? WHERE id = ?`,
		s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, ms(s.ModifiedTime), s.ID)
}

func (tx *Tx) DeleteSite(ctx context.Context, id string) error {
	return tx.execOne(ctx, notFound("site"), `DELETE FROM sites WHERE id = ?`, id)
}

func (tx *Tx) CreatePrivilege(ctx context.Context, p *portal.Privilege, createdMS int64) error {
	_, err := tx.exec(ctx, `INSERT INTO privileges (id, user_id, org_id, site_id, scope, role, created_at) VALUES (?,?,?,?,?,?,?)`,
		p.ID, p.UserID, p.OrgID, nullable(p.SiteID), p.Scope, p.Role, createdMS)
	return err
}

// ListPrivileges returns a user's privileges with organization and site
// names, ordered by organization name, then the org-scoped privilege before
// the site-scoped ones by site name. (NULL site ids must not decide the
// order: SQLite sorts NULLs first, PostgreSQL last.)
func (c conn) ListPrivileges(ctx context.Context, userID string) ([]*portal.Privilege, error) {
	rows, err := c.query(ctx, `SELECT p.id, p.user_id, p.org_id, COALESCE(p.site_id, ''), p.scope, p.role, o.name, COALESCE(s.name, '')
		FROM privileges p JOIN orgs o ON o.id = p.org_id LEFT JOIN sites s ON s.id = p.site_id
		WHERE p.user_id = ? ORDER BY o.name, o.id, CASE WHEN p.site_id IS NULL THEN 0 ELSE 1 END, s.name, s.id, p.id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*portal.Privilege
	for rows.Next() {
		var p portal.Privilege
		if err := rows.Scan(&p.ID, &p.UserID, &p.OrgID, &p.SiteID, &p.Scope, &p.Role, &p.OrgName, &p.SiteName); err != nil {
			return nil, err
		}
		out = append(out, &p)
	}
	return out, rows.Err()
}

// UserSessionExpiry returns the shortest session_expiry (minutes) among the
// user's organizations, or def when the user belongs to none.
func (c conn) UserSessionExpiry(ctx context.Context, userID string, def int) (int, error) {
	var v sql.NullInt64
	err := c.queryRow(ctx, `SELECT MIN(o.session_expiry) FROM orgs o JOIN privileges p ON p.org_id = o.id WHERE p.user_id = ?`, userID).Scan(&v)
	if err != nil || !v.Valid {
		return def, err
	}
	return int(v.Int64), nil
}

// UserSessionMaxLifetime returns the shortest session_max_lifetime (days)
// among the user's organizations, or def when the user belongs to none.
func (c conn) UserSessionMaxLifetime(ctx context.Context, userID string, def int) (int, error) {
	var v sql.NullInt64
	err := c.queryRow(ctx, `SELECT MIN(o.session_max_lifetime) FROM orgs o JOIN privileges p ON p.org_id = o.id WHERE p.user_id = ?`, userID).Scan(&v)
	if err != nil || !v.Valid {
		return def, err
	}
	return int(v.Int64), nil
}
