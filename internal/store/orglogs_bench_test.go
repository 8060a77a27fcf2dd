package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// BenchmarkOrgAuditLogs measures the first page of an organization's audit
// log (store.ListOrgAudit, what GET /api/v1/orgs/{id}/logs runs) for the
// common filters, on a log of PORTAL_BENCH_AUDIT_ROWS entries (default
// 200,000; the figure is 10,000,000) spread over 1,000
// organizations, 10 sites each, 10,000 administrators and one year. Run:
//
//	PORTAL_BENCH_AUDIT_ROWS=10000000 go test ./internal/store -run '^$' -bench OrgAuditLogs -benchtime 200x -timeout 2h
//
// ns/op is the latency of one page (its total counted too).
func BenchmarkOrgAuditLogs(b *testing.B) {
	rows := 200_000
	if v := os.Getenv("PORTAL_BENCH_AUDIT_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("PORTAL_BENCH_AUDIT_ROWS=%q: want a number of at least 1000", v)
		}
		rows = n
	}
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := testenv.OpenDB(b, d)
			now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
			start := time.Now()
			if err := fillAudit(ctx, db, d, rows, now); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d entries written in %v", d, rows, time.Since(start).Round(time.Second))
			org := "org-0042"
			site := org + "-site-3"
			base := store.OrgAuditQuery{OrgID: org, Start: now.Add(-7 * 24 * time.Hour), End: now.Add(time.Second), Limit: 100, Page: 1}
			cases := []struct {
				name string
				q    func() store.OrgAuditQuery
			}{
				{"newest-7d", func() store.OrgAuditQuery { return base }},
				{"newest-365d", func() store.OrgAuditQuery { q := base; q.Start = now.Add(-365 * 24 * time.Hour); return q }},
				{"site-7d", func() store.OrgAuditQuery { q := base; q.SiteID = site; return q }},
				{"network-admin-sites-30d", func() store.OrgAuditQuery {
					q := base
					q.Start, q.Sites = now.Add(-30*24*time.Hour), []string{site, org + "-site-4"}
					return q
				}},
				{"admin-name-30d", func() store.OrgAuditQuery {
					q := base
					q.Start, q.AdminName = now.Add(-30*24*time.Hour), "admin 42"
					return q
				}},
				{"message-30d", func() store.OrgAuditQuery {
					q := base
					q.Start, q.Message = now.Add(-30*24*time.Hour), "updated site"
					return q
				}},
				{"page-2-by-cursor-365d", func() store.OrgAuditQuery {
					q := base
					q.Start = now.Add(-365 * 24 * time.Hour)
					first, _, err := db.ListOrgAudit(ctx, q)
					if err != nil || len(first) == 0 {
						b.Fatalf("first page: %v", err)
					}
					last := first[len(first)-1]
					q.After = &store.AuditCursor{TS: last.Timestamp, ID: last.ID}
					return q
				}},
			}
			for _, c := range cases {
				q := c.q()
				b.Run(c.name, func(b *testing.B) {
					var total int
					for b.Loop() {
						var err error
						if _, total, err = db.ListOrgAudit(ctx, q); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(total), "matching")
				})
			}
		})
	}
}

// fillAudit writes n audit entries in the database itself (a generated
// series), newest at now, one every year/n, organization i%1000.
func fillAudit(ctx context.Context, db *store.DB, d store.Dialect, n int, now time.Time) error {
	step := int64(365*24*time.Hour/time.Millisecond) / int64(n)
	nowMS := now.UnixMilli()
	var q string
	switch d {
	case store.SQLite:
		q = fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < %d)
			INSERT INTO audit_logs (id, ts, admin_id, admin_name, org_id, site_id, message, before_json, after_json, src_ip)
			SELECT printf('e%%010d', i), %d - i * %d, printf('admin-%%05d', (i / 7) %% 10000), printf('Admin %%d', (i / 7) %% 10000),
				printf('org-%%04d', i %% 1000),
				CASE WHEN i %% 11 = 0 THEN '%s' ELSE printf('org-%%04d-site-%%d', i %% 1000, (i / 1000) %% 10) END,
				CASE i %% 3 WHEN 0 THEN 'Updated site Site ' || ((i / 1000) %% 10) WHEN 1 THEN 'Logged in' ELSE 'Created site Site ' || ((i / 1000) %% 10) END,
				'', '{"name":"x"}', '192.0.2.1'
			FROM s`, n, nowMS, step, portal.NilID)
	default:
		q = fmt.Sprintf(`INSERT INTO audit_logs (id, ts, admin_id, admin_name, org_id, site_id, message, before_json, after_json, src_ip)
			SELECT 'e' || lpad(i::text, 10, '0'), %d - i * %d, 'admin-' || lpad(((i / 7) %% 10000)::text, 5, '0'), 'Admin ' || ((i / 7) %% 10000),
				'org-' || lpad((i %% 1000)::text, 4, '0'),
				CASE WHEN i %% 11 = 0 THEN '%s' ELSE 'org-' || lpad((i %% 1000)::text, 4, '0') || '-site-' || ((i / 1000) %% 10) END,
				CASE i %% 3 WHEN 0 THEN 'Updated site Site ' || ((i / 1000) %% 10) WHEN 1 THEN 'Logged in' ELSE 'Created site Site ' || ((i / 1000) %% 10) END,
				'', '{"name":"x"}', '192.0.2.1'
			FROM generate_series(0::bigint, %d::bigint) AS i`, nowMS, step, portal.NilID, n-1)
	}
	// A bulk load: the secondary indexes are dropped and built again after
	// it (sorting once instead of inserting into them row by row); these
	// are the indexes of audit_logs in migrations 00001 and 00013.
	indexes := map[string]string{
		"audit_logs_admin":     "audit_logs(admin_id, ts)",
		"audit_logs_org_ts_id": "audit_logs(org_id, ts, id)",
		"audit_logs_org_site":  "audit_logs(org_id, site_id, ts)",
		"audit_logs_ts":        "audit_logs(ts)",
	}
	if d == store.SQLite {
		if err := db.Exec(ctx, "PRAGMA cache_size = -1048576"); err != nil { // 1 GiB, for the index builds
			return err
		}
	}
	for name := range indexes {
		if err := db.Exec(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}
	if err := db.Exec(ctx, q); err != nil {
		return err
	}
	for name, on := range indexes {
		if err := db.Exec(ctx, "CREATE INDEX "+name+" ON "+on); err != nil {
			return err
		}
	}
	if d == store.SQLite {
		return db.Exec(ctx, "ANALYZE")
	}
	return db.Exec(ctx, "VACUUM ANALYZE audit_logs") // as autovacuum would: statistics, and the visibility map for index-only counts
}
