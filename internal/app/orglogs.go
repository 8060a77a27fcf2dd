package app

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
)

// An organization's audit log (Organization ▸ Audit Logs, Mist's
// GET /api/v1/orgs/{org_id}/logs). A Super User of the whole organization
// reads all of it; a Network Admin (or a Super User of some sites) reads
// the entries of the sites the privilege covers; other roles none
// (ActViewAuditLogs). The entries of a deleted member stay, under the name
// they carry, until the retention purge (retention.go).

// OrgLogQuery selects an organization's audit entries: the time range and
// page of LogQuery, and Mist's filters.
type OrgLogQuery struct {
	LogQuery
	SiteID    string // one site
	AdminName string // part of the administrator's name or e-mail address
	Message   string // part of the message
	Sort      string // "-timestamp" (default), "timestamp", "admin_id", "site_id"
	// Cursor is the Next of a previous page: the page after it, found by
	// position rather than counted (time orders only).
	Cursor string
}

// OrgLogPage is one page of an organization's audit log.
type OrgLogPage struct {
	LogPage
	// Next is the cursor of the next page in time order ("" on the last
	// page, and for the other orders, which page by number).
	Next string
}

// maxLogFilterLen bounds the text filters.
const maxLogFilterLen = 256

func (q *OrgLogQuery) check() error {
	switch q.Sort {
	case "", store.AuditNewestFirst, store.AuditOldestFirst, store.AuditByAdmin, store.AuditBySite:
	default:
		return portal.Errorf(portal.EINVALID, "sort must be -timestamp, timestamp, admin_id or site_id")
	}
	if q.SiteID != "" {
		if _, err := uuid.Parse(q.SiteID); err != nil {
			return portal.Errorf(portal.EINVALID, "site_id must be a site's id")
		}
	}
	for name, v := range map[string]string{"admin_name": q.AdminName, "message": q.Message} {
		if len(v) > maxLogFilterLen || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' }) {
			return portal.Errorf(portal.EINVALID, "%s must be at most %d characters, without control characters", name, maxLogFilterLen)
		}
	}
	if q.Cursor != "" && q.Sort != "" && q.Sort != store.AuditNewestFirst && q.Sort != store.AuditOldestFirst {
		return portal.Errorf(portal.EINVALID, "cursor pages in time order only: use page with sort=%s", q.Sort)
	}
	return nil
}

// encodeCursor and decodeCursor write a position as "<epoch ms>.<id>".
func encodeCursor(e *portal.AuditEntry) string {
	return strconv.FormatInt(e.Timestamp.UnixMilli(), 10) + "." + e.ID
}

func decodeCursor(s string) (*store.AuditCursor, error) {
	ts, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ts, 10, 64)
	if _, uerr := uuid.Parse(id); !ok || err != nil || uerr != nil || n < 0 {
		return nil, portal.Errorf(portal.EINVALID, "cursor is not one this log gave")
	}
	return &store.AuditCursor{TS: time.UnixMilli(n).UTC(), ID: id}, nil
}

// OrgLogs returns one page of an organization's audit log, newest first
// unless sorted otherwise, with what the actor may see of it.
func (s *Service) OrgLogs(ctx context.Context, a *Actor, orgID string, q OrgLogQuery) (_ *OrgLogPage, err error) {
	defer wrap(&err, "OrgLogs(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	sq := store.OrgAuditQuery{OrgID: orgID}
	switch {
	case acc.isAdmin(): // all of it
	case acc.orgRole != "" && RoleGrants(acc.orgRole, portal.ScopeOrg, ActViewAuditLogs):
		sq.AllSites = true
	default:
		sq.Sites = []string{}
		for site, role := range acc.siteRoles {
			if RoleGrants(role, portal.ScopeSite, ActViewAuditLogs) {
				sq.Sites = append(sq.Sites, site)
			}
		}
		if len(sq.Sites) == 0 {
			return nil, acc.forbidden(ActViewAuditLogs, "", "you cannot see this organization's audit logs", true)
		}
	}
	if err := q.check(); err != nil {
		return nil, err
	}
	start, end, err := s.logRange(q.LogQuery)
	if err != nil {
		return nil, err
	}
	page, err := CheckPage(q.Page)
	if err != nil {
		return nil, err
	}
	if q.Cursor != "" {
		if sq.After, err = decodeCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	sq.SiteID, sq.AdminName, sq.Message, sq.Sort = q.SiteID, q.AdminName, q.Message, q.Sort
	sq.Start, sq.End, sq.Limit, sq.Page = start, end, page.Limit, page.Page
	res, total, err := s.db.ListOrgAudit(ctx, sq)
	if err != nil {
		return nil, err
	}
	out := &OrgLogPage{LogPage: LogPage{Start: start, End: end, Page: page, Total: total, Results: res}}
	timeOrder := q.Sort == "" || q.Sort == store.AuditNewestFirst || q.Sort == store.AuditOldestFirst
	if timeOrder && len(res) == page.Limit {
		out.Next = encodeCursor(res[len(res)-1])
	}
	return out, nil
}

// CSVMaxRows is the most entries one CSV download holds.
const CSVMaxRows = 100_000

// OrgLogsEach calls fn with every entry of the query (its page ignored),
// in pages found by position, at most CSVMaxRows of them: for the CSV
// download.
func (s *Service) OrgLogsEach(ctx context.Context, a *Actor, orgID string, q OrgLogQuery, fn func(*portal.AuditEntry) error) (err error) {
	defer wrap(&err, "OrgLogsEach(%s)", orgID)
	if q.Sort != store.AuditOldestFirst {
		q.Sort = store.AuditNewestFirst
	}
	q.Page, q.Cursor = portal.Page{Limit: portal.MaxPageLimit, Page: 1}, ""
	for n := 0; n < CSVMaxRows; {
		p, err := s.OrgLogs(ctx, a, orgID, q)
		if err != nil {
			return err
		}
		for _, e := range p.Results {
			if n >= CSVMaxRows {
				break
			}
			if err := fn(e); err != nil {
				return err
			}
			n++
		}
		if p.Next == "" {
			return nil
		}
		q.Cursor = p.Next
		// The range stays the first page's (in whole seconds), however
		// long the download takes.
		q.Start, q.End, q.Duration = p.Start.Unix(), (p.End.UnixMilli()+999)/1000, ""
	}
	return nil
}
