package store

import (
	"context"
	"strings"
	"time"

	"portal"
)

// Audit log sort orders (Mist's list_org_logs_sort).
const (
	AuditNewestFirst = "-timestamp"
	AuditOldestFirst = "timestamp"
	AuditByAdmin     = "admin_id"
	AuditBySite      = "site_id"
)

// AuditCursor is the position after the last entry of a page, for keyset
// pagination in time order: the next page starts after it without
// counting the entries before it.
type AuditCursor struct {
	TS time.Time
	ID string
}

// OrgAuditQuery selects an organization's audit entries in [Start, End).
type OrgAuditQuery struct {
	OrgID string
	// Sites, when not nil, keeps only the entries of these sites (a
	// member who may see the log of some sites only); AllSites keeps the
	// entries of every site but not the organization's own.
	Sites    []string
	AllSites bool
	// Filters: a site, part of the administrator's name or e-mail address
	// and part of the message (both without regard to case).
	SiteID    string
	AdminName string
	Message   string
	Start     time.Time
	End       time.Time
	Sort      string // AuditNewestFirst by default
	Limit     int
	Page      int          // from 1, for offset pagination
	After     *AuditCursor // keyset pagination in time order (instead of Page)
}

// likeArg is a LIKE pattern that finds s anywhere, with LIKE's special
// characters escaped (ESCAPE '\').
func likeArg(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// ListOrgAudit returns one page of an organization's audit entries and how
// many match in all. Every filter is served by an index on (org_id, ts) or
// (org_id, site_id, ts); text filters are checked on the rows of the
// range.
func (c conn) ListOrgAudit(ctx context.Context, q OrgAuditQuery) (_ []*portal.AuditEntry, _ int, err error) {
	defer wrap(&err, "ListOrgAudit(%s)", q.OrgID)
	where := `org_id = ? AND ts >= ? AND ts < ?`
	args := []any{q.OrgID, ms(q.Start), ms(q.End)}
	switch {
	case q.Sites != nil && len(q.Sites) == 0:
		return nil, 0, nil
	case q.Sites != nil:
		where += ` AND site_id IN (` + qmarks(len(q.Sites)) + `)`
		for _, s := range q.Sites {
			args = append(args, s)
		}
	case q.AllSites:
		where += ` AND site_id <> ?`
		args = append(args, portal.NilID)
	}
	if q.SiteID != "" {
		where += ` AND site_id = ?`
		args = append(args, q.SiteID)
	}
	if q.AdminName != "" {
		where += ` AND (LOWER(admin_name) LIKE ? ESCAPE '\' OR admin_id IN (SELECT id FROM users WHERE email_lower LIKE ? ESCAPE '\'))`
		args = append(args, likeArg(q.AdminName), likeArg(q.AdminName))
	}
	if q.Message != "" {
		where += ` AND LOWER(message) LIKE ? ESCAPE '\'`
		args = append(args, likeArg(q.Message))
	}
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM audit_logs WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := `ts DESC, id DESC`
	switch q.Sort {
	case AuditOldestFirst:
		order = `ts, id`
	case AuditByAdmin:
		order = `admin_id, ts DESC, id DESC`
	case AuditBySite:
		order = `site_id, ts DESC, id DESC`
	}
	page := where
	pageArgs := append([]any{}, args...)
	offset := 0
	switch {
	case q.After != nil && q.Sort == AuditOldestFirst:
		page += ` AND (ts > ? OR (ts = ? AND id > ?))`
		pageArgs = append(pageArgs, ms(q.After.TS), ms(q.After.TS), q.After.ID)
	case q.After != nil && (q.Sort == "" || q.Sort == AuditNewestFirst):
		page += ` AND (ts < ? OR (ts = ? AND id < ?))`
		pageArgs = append(pageArgs, ms(q.After.TS), ms(q.After.TS), q.After.ID)
	case q.Page > 1:
		offset = (q.Page - 1) * q.Limit
	}
	rows, err := c.query(ctx, `SELECT `+auditCols+` FROM audit_logs WHERE `+page+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(pageArgs, q.Limit, offset)...)
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
