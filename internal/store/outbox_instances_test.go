package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mail"
	"portal/internal/store"
	"portal/internal/testenv"
)

// recordingSender records every delivery it is asked to make.
type recordingSender struct {
	mu   sync.Mutex
	sent map[string]int
	to   map[string]string
}

func newRecordingSender() *recordingSender {
	return &recordingSender{sent: map[string]int{}, to: map[string]string{}}
}

func (s *recordingSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[m.ID]++
	s.to[m.ID] = m.To
	return nil
}

func (s *recordingSender) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.sent {
		n += c
	}
	return n
}

// TestOutboxExactlyOnceAcrossInstances runs two mail workers, each on its
// own database handle as two portal instances would, over one outbox, and
// checks that every message is delivered exactly once overall.
func TestOutboxExactlyOnceAcrossInstances(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a bound, not an assertion
		defer cancel()
		var dsn string
		switch d {
		case store.SQLite:
			dsn = filepath.Join(t.TempDir(), "portal.db")
		case store.Postgres:
			dsn = testenv.PostgresURL(t)
		}
		var dbs [2]*store.DB
		for i := range dbs {
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs[i] = db
		}
		if err := dbs[0].Migrate(ctx); err != nil {
			t.Fatal(err)
		}

		const n = 50
		want := map[string]string{}
		now := time.Now().UTC()
		for i := range n {
			m := &portal.OutboxMessage{ID: uuid.NewString(), To: fmt.Sprintf("user%02d@example.com", i),
				Subject: "Hello", Text: "text", CreatedTime: now.Add(-time.Duration(n-i) * time.Millisecond)}
			want[m.ID] = m.To
			// Enqueue through either instance.
			if err := dbs[i%2].Write(ctx, func(tx *store.Tx) error { return tx.EnqueueMail(ctx, m) }); err != nil {
				t.Fatal(err)
			}
		}

		var senders [2]*recordingSender
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			senders[i] = newRecordingSender()
			// Small batches so that the two workers interleave.
			w := mail.NewWorker(store.Outbox{DB: dbs[i]}, senders[i], nil, time.Now, mail.WorkerOptions{Batch: 3})
			db := dbs[i]
			wg.Go(func() {
				<-start
				for {
					if _, _, err := w.RunOnce(ctx); err != nil {
						errs <- fmt.Errorf("worker %d: %w", i, err)
						return
					}
					left, err := db.PendingMail(ctx)
					if err != nil {
						errs <- fmt.Errorf("worker %d: %w", i, err)
						return
					}
					if left == 0 {
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		for id, to := range want {
			a, b := senders[0].sent[id], senders[1].sent[id]
			if a+b != 1 {
				t.Errorf("message %s to %s delivered %d times (%d by instance 1, %d by instance 2), want exactly once", id, to, a+b, a, b)
			}
			for _, s := range senders {
				if got, ok := s.to[id]; ok && got != to {
					t.Errorf("message %s delivered to %s, want %s", id, got, to)
				}
			}
		}
		for _, s := range senders {
			for id := range s.sent {
				if _, ok := want[id]; !ok {
					t.Errorf("unknown message %s delivered", id)
				}
			}
		}
		t.Logf("%s: instance 1 delivered %d, instance 2 delivered %d", d, senders[0].total(), senders[1].total())
		for i, db := range dbs {
			if left, err := db.PendingMail(ctx); err != nil || left != 0 {
				t.Errorf("instance %d: PendingMail = %d, %v; want 0", i+1, left, err)
			}
		}
	})
}
