package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mail"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// BenchmarkMailBurst drains a burst of 1,000 queued mails through the
// outbox worker and the real SMTP sender into the in-process SMTP server,
// and reports the rate (mails/s). README's figures come from
//
//	go test ./internal/store -run '^$' -bench MailBurst -benchtime 3x
func BenchmarkMailBurst(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			const burst = 1000
			ctx := context.Background()
			db := testenv.OpenDB(b, d)
			srv := smtptest.Start(b)
			sender, err := mail.NewSender(srv.URL(), "Portal <no-reply@portal.example>", nil)
			if err != nil {
				b.Fatal(err)
			}
			w := mail.NewWorker(store.Outbox{DB: db, Instance: "bench"}, sender, nil, time.Now, mail.WorkerOptions{})
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				srv.Reset()
				now := time.Now()
				for i := 0; i < burst; i += 100 { // queued as a burst of invitations would be
					err := db.Write(ctx, func(tx *store.Tx) error {
						for j := i; j < i+100; j++ {
							m := &portal.OutboxMessage{ID: uuid.NewString(), To: fmt.Sprintf("user%04d@example.com", j), Subject: "You are invited",
								Text: "Open https://portal.example/invites/accept?token=0123456789abcdef to accept.", HTML: "<p>Open the link.</p>", CreatedTime: now}
							if err := tx.EnqueueMail(ctx, m); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				for {
					sent, failed, err := w.RunOnce(ctx)
					if err != nil || failed != 0 {
						b.Fatalf("RunOnce: %d failed, %v", failed, err)
					}
					if sent == 0 {
						break
					}
				}
				elapsed += time.Since(start)
				b.StopTimer()
				if n, err := db.PendingMail(ctx); err != nil || n != 0 {
					b.Fatalf("%d left in the outbox (%v)", n, err)
				}
				if got := len(srv.Messages()); got != burst {
					b.Fatalf("server received %d, want %d", got, burst)
				}
			}
			b.ReportMetric(float64(burst*b.N)/elapsed.Seconds(), "mails/s")
			b.ReportMetric(float64(srv.Connections())/float64(b.N), "conns/burst")
		})
	}
}
