package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestMetricsMailQueue: /metrics reports the outbox's depth and the age
// of its oldest unsent mail, read from the database at each scrape, and
// the mail counters by outcome.
func TestMetricsMailQueue(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
		m := server.NewMetrics(nil)
		m.SetMailQueue(db.MailQueue, func() time.Time { return now })
		m.Mails.WithLabelValues("retried").Inc()
		scrape := func() string {
			t.Helper()
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			b, _ := io.ReadAll(rec.Result().Body)
			return string(b)
		}
		out := scrape()
		for _, want := range []string{"portal_mail_queue_depth 0", "portal_mail_oldest_unsent_age_seconds 0", `portal_mails_total{outcome="retried"} 1`} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("empty outbox: no %q in\n%s", want, out)
			}
		}
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, age := range []time.Duration{90 * time.Second, time.Second} {
				if err := tx.EnqueueMail(ctx, &portal.OutboxMessage{ID: uuid.NewString(), To: "a@example.com", Subject: "s", Text: "t", CreatedTime: now.Add(-age)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out = scrape()
		for _, want := range []string{"portal_mail_queue_depth 2", "portal_mail_oldest_unsent_age_seconds 90"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("two queued: no %q in\n%s", want, out)
			}
		}
	})
}

// TestMetricsPools: /metrics reports each connection pool of the database,
// by name, with the connections it holds and has waited for.
func TestMetricsPools(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		if _, err := db.AuthEpoch(context.Background()); err != nil {
			t.Fatal(err)
		}
		m := server.NewMetrics(nil)
		m.SetPools(db.Pools())
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Result().Body)
		out := string(b)
		names := map[store.Dialect][]string{store.SQLite: {"sqlite_write", "sqlite_read"}, store.Postgres: {"postgres"}}[d]
		for _, name := range names {
			for _, metric := range []string{"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_in_use_connections", "go_sql_wait_count_total", "go_sql_max_idle_closed_total"} {
				if !strings.Contains(out, metric+`{db_name="`+name+`"} `) {
					t.Errorf("no %s for pool %s in\n%s", metric, name, out)
				}
			}
		}
		// The read pool (PostgreSQL's only one) has the connection the
		// read above opened, kept idle.
		read := names[len(names)-1]
		if !strings.Contains(out, `go_sql_idle_connections{db_name="`+read+`"} 1`+"\n") {
			t.Errorf("pool %s: want one idle connection in\n%s", read, out)
		}
	})
}

// TestMetricsAuthCache: /metrics reports how many sessions and API tokens
// the instance holds the authentication of, at each scrape: none at
// first, one per session that made a request, and one fewer once a
// session ended and the next request caught the cache up.
func TestMetricsAuthCache(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		m := server.NewMetrics(nil)
		m.SetAuthCache(st.Service.AuthCacheEntries)
		want := func(n int) {
			t.Helper()
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			b, _ := io.ReadAll(rec.Result().Body)
			if line := fmt.Sprintf("portal_auth_cache_entries %d\n", n); !strings.Contains(string(b), line) {
				t.Errorf("want %q in\n%s", line, b)
			}
		}
		self := func(c *http.Client, status int) {
			t.Helper()
			if r := st.Do(t, c, "GET", "/api/v1/self", nil); r.Status != status {
				t.Fatalf("GET /api/v1/self: %d %s, want %d", r.Status, r.Body, status)
			}
		}
		want(0)
		ann := st.SignUp(t, "ann@example.com", "correct horse battery", "Acme")
		bob := st.SignUp(t, "bob@example.com", "correct horse battery", "Bolt")
		self(ann, 200)
		self(bob, 200)
		self(ann, 200)
		want(2)
		if r := st.Do(t, ann, "POST", "/api/v1/logout", nil); r.Status != 200 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		self(bob, 200)
		want(1)
	})
}
