package store

import (
	"context"
	"database/sql"
	"errors"

	"portal"
)

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

func (tx *Tx) CreateSite(ctx context.Context, s *portal.Site) (err error) {
	defer wrap(&err, "CreateSite")
	_, err = tx.exec(ctx, `INSERT INTO sites (`+siteCols+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		s.ID, s.OrgID, s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, ms(s.CreatedTime), ms(s.ModifiedTime))
	return err
}

func (c conn) GetSite(ctx context.Context, id string) (_ *portal.Site, err error) {
	defer wrap(&err, "GetSite(%s)", id)
	s, err := scanSite(c.queryRow(ctx, `SELECT `+siteCols+` FROM sites WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("site")
	}
	return s, err
}

// ListSites returns one page of an organization's sites by name, and the total.
func (c conn) ListSites(ctx context.Context, orgID string, p portal.Page) (_ []*portal.Site, _ int, err error) {
	defer wrap(&err, "ListSites(%s)", orgID)
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

func (tx *Tx) UpdateSite(ctx context.Context, s *portal.Site) (err error) {
	defer wrap(&err, "UpdateSite")
	return tx.execOne(ctx, notFound("site"), `UPDATE sites SET name = ?, timezone = ?, country_code = ?, address = ?, notes = ?, modified_at = ? WHERE id = ?`,
		s.Name, s.Timezone, s.CountryCode, s.Address, s.Notes, ms(s.ModifiedTime), s.ID)
}

func (tx *Tx) DeleteSite(ctx context.Context, id string) (err error) {
	defer wrap(&err, "DeleteSite(%s)", id)
	return tx.execOne(ctx, notFound("site"), `DELETE FROM sites WHERE id = ?`, id)
}
