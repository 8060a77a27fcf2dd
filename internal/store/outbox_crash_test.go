package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mail"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// crashingSender delivers through s until it has delivered `after`
// messages; the next one still reaches the SMTP server (as a message does
// at the moment of a kill -9), and then the "process" hangs there for
// good: neither that message nor the rest of its batch is ever marked.
type crashingSender struct {
	s       mail.Sender
	after   int
	mu      sync.Mutex
	n       int
	crashed chan struct{} // closed when the crash happens
	hang    chan struct{} // closed at the end of the test
}

func (c *crashingSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	if n <= c.after {
		return c.s.Send(ctx, m)
	}
	if n == c.after+1 {
		if err := c.s.Send(ctx, m); err != nil {
			return err
		}
		close(c.crashed)
	}
	<-c.hang
	return errors.New("the process is gone")
}

// crashedInstance queues n mails and runs an instance named instance over
// them until it "crashes" after delivering `after` of them; it returns the
// queued recipients. The crashed worker's goroutine is released at cleanup.
func crashedInstance(t *testing.T, db *store.DB, srv *smtptest.Server, clock func() time.Time, instance string, n, after int) []string {
	t.Helper()
	ctx := context.Background()
	var to []string
	err := db.Write(ctx, func(tx *store.Tx) error {
		for i := range n {
			m := &portal.OutboxMessage{ID: uuid.NewString(), To: fmt.Sprintf("user%02d@example.com", i), Subject: "Invitation", Text: "Welcome", CreatedTime: clock().Add(time.Duration(i-n) * time.Millisecond)}
			to = append(to, m.To)
			if err := tx.EnqueueMail(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	real, err := mail.NewSender(srv.URL(), "Portal <no-reply@portal.example>", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := &crashingSender{s: real, after: after, crashed: make(chan struct{}), hang: make(chan struct{})}
	w := mail.NewWorker(store.Outbox{DB: db, Instance: instance}, cs, nil, clock, mail.WorkerOptions{Senders: 1})
	done := make(chan struct{})
	go func() { defer close(done); _, _, _ = w.RunOnce(ctx) }()
	t.Cleanup(func() { close(cs.hang); <-done })
	<-cs.crashed
	return to
}

// checkDelivered: every recipient got its mail; only the one that reached
// the server at the crash got it twice, with the same Message-ID (the
// at-least-once edge: accepted by the server, not yet marked sent).
func checkDelivered(t *testing.T, srv *smtptest.Server, to []string) {
	t.Helper()
	byTo := map[string][]string{}
	for _, m := range srv.Messages() {
		byTo[m.To[0]] = append(byTo[m.To[0]], m.Header.Get("Message-Id"))
	}
	dups := 0
	for _, addr := range to {
		ids := byTo[addr]
		switch {
		case len(ids) == 0:
			t.Errorf("mail to %s lost", addr)
		case len(ids) == 2 && ids[0] == ids[1]:
			dups++
		case len(ids) > 1:
			t.Errorf("mail to %s delivered %d times with Message-IDs %v", addr, len(ids), ids)
		}
	}
	if dups != 1 {
		t.Errorf("%d mails delivered twice, want exactly the one in flight at the crash", dups)
	}
}

// TestOutboxRestartTakesBackClaims: an instance that crashed mid-send and
// restarts under the same instance id sends its claimed mail at once,
// without waiting for the lease; another instance does not touch those
// claims meanwhile.
func TestOutboxRestartTakesBackClaims(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		srv := smtptest.Start(t)
		clock := testenv.NewClock(time.Now().UTC())
		to := crashedInstance(t, db, srv, clock.Now, "host-a:/var/lib/portal/portal.db", 12, 4)

		// Another instance, at the same moment: the claims are under lease.
		sender, err := mail.NewSender(srv.URL(), "Portal <no-reply@portal.example>", nil)
		if err != nil {
			t.Fatal(err)
		}
		other := mail.NewWorker(store.Outbox{DB: db, Instance: "host-b:/var/lib/portal/portal.db"}, sender, nil, clock.Now, mail.WorkerOptions{})
		if sent, failed, err := other.RunOnce(context.Background()); sent+failed != 0 || err != nil {
			t.Fatalf("another instance: RunOnce = %d, %d, %v; want nothing (leased)", sent, failed, err)
		}

		// The same instance restarts; the clock has not moved.
		restarted := mail.NewWorker(store.Outbox{DB: db, Instance: "host-a:/var/lib/portal/portal.db"}, sender, nil, clock.Now, mail.WorkerOptions{Interval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); restarted.Run(ctx) }()
		for _, addr := range to {
			srv.WaitFor(t, smtptest.To(addr), 10*time.Second)
		}
		cancel()
		<-done
		checkDelivered(t, srv, to)
		if n, err := db.PendingMail(context.Background()); err != nil || n != 0 {
			t.Errorf("PendingMail = %d, %v; want 0", n, err)
		}
	})
}

// TestOutboxOtherInstanceTakesOver: of two instances, one is killed
// mid-send; the other takes its leased mail over once the lease expires.
// Nothing is lost.
func TestOutboxOtherInstanceTakesOver(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		srv := smtptest.Start(t)
		clock := testenv.NewClock(time.Now().UTC())
		to := crashedInstance(t, db, srv, clock.Now, "host-a", 12, 4)
		sender, err := mail.NewSender(srv.URL(), "Portal <no-reply@portal.example>", nil)
		if err != nil {
			t.Fatal(err)
		}
		survivor := mail.NewWorker(store.Outbox{DB: db, Instance: "host-b"}, sender, nil, clock.Now, mail.WorkerOptions{})
		ctx := context.Background()
		if sent, _, err := survivor.RunOnce(ctx); sent != 0 || err != nil {
			t.Fatalf("before the lease expired: sent %d, %v", sent, err)
		}
		clock.Advance(mail.DefaultLease)
		for {
			sent, failed, err := survivor.RunOnce(ctx)
			if err != nil || failed != 0 {
				t.Fatalf("RunOnce: %d failed, %v", failed, err)
			}
			if sent == 0 {
				break
			}
		}
		checkDelivered(t, srv, to)
		if n, err := db.PendingMail(ctx); err != nil || n != 0 {
			t.Errorf("PendingMail = %d, %v; want 0", n, err)
		}
	})
}
