package app_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// BenchmarkPurgeWhileRequests measures what the retention purge costs the
// requests that run meanwhile: the latency of a change (a site renamed,
// with its audit entry, in its own write transaction) on an idle service,
// then while PurgeRetention deletes PORTAL_BENCH_PURGE_ROWS expired
// entries (default 200,000) in its batches. Run:
//
//	PORTAL_BENCH_PURGE_ROWS=1000000 go test ./internal/app -run '^$' -bench PurgeWhileRequests -benchtime 300x
//
// Compare ns/op of idle and during-purge; "purged" says how many entries
// the purge removed, "overlapping" how many of the requests ran while it did
// (all of them, for a fair figure: raise the rows or lower the count).
func BenchmarkPurgeWhileRequests(b *testing.B) {
	rows := 200_000
	if v := os.Getenv("PORTAL_BENCH_PURGE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("PORTAL_BENCH_PURGE_ROWS=%q: want a number of at least 1000", v)
		}
		rows = n
	}
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			ts := newTestService(b, d, time.Time{}, nil)
			u := ts.addUsers(b, "bench horse 13", "bench@example.com")[0]
			a := &app.Actor{User: u, Session: &portal.Session{ID: "bench"}, IP: "192.0.2.1"}
			org, err := ts.svc.CreateOrg(ctx, a, app.OrgInput{Name: valuePtr("Bench")})
			if err != nil {
				b.Fatal(err)
			}
			site, err := ts.svc.CreateSite(ctx, a, org.ID, app.SiteInput{Name: valuePtr("Site")})
			if err != nil {
				b.Fatal(err)
			}
			// Expired entries of no organization, two years old.
			old := ts.clock.Now().Add(-2 * 365 * 24 * time.Hour).UnixMilli()
			q := fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < %d)
				INSERT INTO audit_logs (id, ts, admin_id, admin_name, org_id, site_id, message) SELECT printf('old%%010d', i), %d + i, 'x', 'X', 'gone', 'gone', 'Logged in' FROM s`, rows, old)
			if d == store.Postgres {
				q = fmt.Sprintf(`INSERT INTO audit_logs (id, ts, admin_id, admin_name, org_id, site_id, message)
					SELECT 'old' || lpad(i::text, 10, '0'), %d + i, 'x', 'X', 'gone', 'gone', 'Logged in' FROM generate_series(0::bigint, %d::bigint) AS i`, old, rows-1)
			}
			if err := ts.db.Exec(ctx, q); err != nil {
				b.Fatal(err)
			}
			n := 0
			rename := func(b *testing.B) {
				n++
				if _, err := ts.svc.UpdateSite(ctx, a, site.ID, app.SiteInput{Notes: valuePtr(strconv.Itoa(n))}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("idle", func(b *testing.B) {
				for b.Loop() {
					rename(b)
				}
			})
			b.Run("during-purge", func(b *testing.B) {
				var purged atomic.Int64
				done := make(chan struct{})
				go func() {
					defer close(done)
					r, err := ts.svc.PurgeRetention(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					purged.Store(r.OtherAudit)
				}()
				overlap := 0 // requests that ran while the purge did
				for b.Loop() {
					rename(b)
					select {
					case <-done:
					default:
						overlap++
					}
				}
				b.StopTimer()
				<-done
				b.ReportMetric(float64(purged.Load()), "purged")
				b.ReportMetric(float64(overlap), "overlapping")
			})
		})
	}
}
