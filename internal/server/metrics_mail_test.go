package server_test

import (
	"context"
	"io"
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
