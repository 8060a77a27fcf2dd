package store

import (
	"context"
	"encoding/json"
	"time"

	"portal"
)

// InsertAudit writes one audit entry, in the transaction of the change it records.
func (tx *Tx) InsertAudit(ctx context.Context, e *portal.AuditEntry) (err error) {
	defer wrap(&err, "InsertAudit")
	before, after := "", ""
	if e.Before != nil {
		b, err := json.Marshal(e.Before)
		if err != nil {
			return err
		}
		before = string(b)
	}
	if e.After != nil {
		b, err := json.Marshal(e.After)
		if err != nil {
			return err
		}
		after = string(b)
	}
	return tx.execLater(ctx, `INSERT INTO audit_logs (id, ts, admin_id, admin_name, org_id, site_id, message, before_json, after_json, src_ip, api_token_name)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, ms(e.Timestamp), e.AdminID, e.AdminName, e.OrgID, e.SiteID, e.Message, before, after, e.SrcIP, e.APITokenName)
}

// AuditQuery selects audit entries of one admin or one organization in [Start, End).
type AuditQuery struct {
	AdminID string
	OrgID   string
	Start   time.Time
	End     time.Time
	Page    portal.Page
}

// ListAudit returns one page of entries, newest first, and the total.
func (c conn) ListAudit(ctx context.Context, q AuditQuery) (_ []*portal.AuditEntry, _ int, err error) {
	defer wrap(&err, "ListAudit")
	where := `ts >= ? AND ts < ?`
	args := []any{ms(q.Start), ms(q.End)}
	if q.AdminID != "" {
		where += ` AND admin_id = ?`
		args = append(args, q.AdminID)
	}
	if q.OrgID != "" {
		where += ` AND org_id = ?`
		args = append(args, q.OrgID)
	}
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM audit_logs WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.query(ctx, `SELECT `+auditCols+` FROM audit_logs WHERE `+where+
		` ORDER BY ts DESC, id LIMIT ? OFFSET ?`, append(args, q.Page.Limit, (q.Page.Page-1)*q.Page.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*portal.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

const auditCols = `id, ts, admin_id, admin_name, org_id, site_id, message, before_json, after_json, src_ip, api_token_name`

func scanAudit(row interface{ Scan(...any) error }) (*portal.AuditEntry, error) {
	var e portal.AuditEntry
	var ts int64
	var before, after string
	if err := row.Scan(&e.ID, &ts, &e.AdminID, &e.AdminName, &e.OrgID, &e.SiteID, &e.Message, &before, &after, &e.SrcIP, &e.APITokenName); err != nil {
		return nil, err
	}
	e.Timestamp = fromMS(ts)
	if before != "" {
		if err := json.Unmarshal([]byte(before), &e.Before); err != nil {
			return nil, err
		}
	}
	if after != "" {
		if err := json.Unmarshal([]byte(after), &e.After); err != nil {
			return nil, err
		}
	}
	return &e, nil
}
