package mail

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"portal"
	"portal/internal/smtptest"
)

func newPoolSender(t *testing.T, srv *smtptest.Server) *smtpSender {
	t.Helper()
	s, err := NewSender(srv.URL(), defaultFrom, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := s.(*smtpSender)
	t.Cleanup(func() { ss.Close() })
	return ss
}

func plain(id, to string) portal.OutboxMessage {
	return portal.OutboxMessage{ID: id, To: to, Subject: "Subject " + id, Text: "Body " + id, CreatedTime: t0}
}

// TestSMTPPoolReusesConnections: many messages sent at once go over at
// most PoolSize connections, each delivered once with its own Message-ID.
func TestSMTPPoolReusesConnections(t *testing.T) {
	srv := smtptest.Start(t)
	s := newPoolSender(t, srv)
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Send(context.Background(), plain(fmt.Sprintf("m%02d", i), fmt.Sprintf("u%02d@example.com", i)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != n {
		t.Fatalf("server received %d messages, want %d", len(msgs), n)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		id := m.Header.Get("Message-Id")
		if ids[id] {
			t.Errorf("Message-ID %s received twice", id)
		}
		ids[id] = true
		if len(m.To) != 1 {
			t.Errorf("envelope recipients %v: RSET did not clear the previous transaction", m.To)
		}
	}
	if c := srv.Connections(); c > PoolSize {
		t.Errorf("%d SMTP connections for %d messages, want at most %d", c, n, PoolSize)
	}
	open, idle, dials := s.openConns()
	if open > PoolSize || idle != open || dials != srv.Connections() {
		t.Errorf("pool: %d open, %d idle, %d dialled; server saw %d connections", open, idle, dials, srv.Connections())
	}
	t.Logf("%d messages over %d connections", n, srv.Connections())
}

// TestSMTPPoolReconnects: connections the server dropped are noticed (the
// RSET before reuse fails) and replaced, without losing the message.
func TestSMTPPoolReconnects(t *testing.T) {
	srv := smtptest.Start(t)
	s := newPoolSender(t, srv)
	ctx := context.Background()
	if err := s.Send(ctx, plain("a", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true) // cuts the pooled connection
	err := s.Send(ctx, plain("b", "b@example.com"))
	if KindOf(err) != ServerFailure {
		t.Fatalf("send while down: %v (kind %v), want a server failure", err, KindOf(err))
	}
	srv.SetDown(false)
	if err := s.Send(ctx, plain("c", "c@example.com")); err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
	srv.WaitFor(t, smtptest.To("c@example.com"), waitTimeout)
	if open, _, _ := s.openConns(); open != 1 {
		t.Errorf("%d connections open, want 1 (the broken ones closed)", open)
	}
}

// TestSMTPPoolClosesIdle: a connection unused for the idle timeout is
// closed (QUIT), and the next message opens a new one.
func TestSMTPPoolClosesIdle(t *testing.T) {
	srv := smtptest.Start(t)
	s := newPoolSender(t, srv)
	s.idleTimeout = 20 * time.Millisecond
	if err := s.Send(context.Background(), plain("a", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // bounded wait for the reaper, not a timed assertion
		if open, _, _ := s.openConns(); open == 0 {
			break
		}
		if i == 500 {
			t.Fatal("idle connection never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Send(context.Background(), plain("b", "b@example.com")); err != nil {
		t.Fatal(err)
	}
	if c := srv.Connections(); c != 2 {
		t.Errorf("%d connections, want 2 (a new one after the idle close)", c)
	}
}

// TestSMTPFailureKinds: whose fault each refusal is.
func TestSMTPFailureKinds(t *testing.T) {
	srv := smtptest.Start(t)
	s := newPoolSender(t, srv)
	ctx := context.Background()
	srv.RejectRcpt("gone@example.com", 550)
	srv.RejectRcpt("busy@example.com", 451)
	if err := s.Send(ctx, plain("p", "gone@example.com")); KindOf(err) != Permanent {
		t.Errorf("550 for the recipient: %v (kind %v), want permanent", err, KindOf(err))
	}
	if err := s.Send(ctx, plain("t", "busy@example.com")); KindOf(err) != Temporary {
		t.Errorf("451 for the recipient: %v (kind %v), want temporary", err, KindOf(err))
	}
	if err := s.Send(ctx, plain("x", "not an address")); KindOf(err) != Permanent {
		t.Errorf("invalid recipient: %v (kind %v), want permanent", err, KindOf(err))
	}
	// The connection survives a refused recipient… (or is replaced)
	if err := s.Send(ctx, plain("ok", "ok@example.com")); err != nil {
		t.Fatalf("after refusals: %v", err)
	}
	for _, code := range []int{421, 451, 554} {
		srv.SetMailReply(code)
		if err := s.Send(ctx, plain("m", "m@example.com")); KindOf(err) != ServerFailure {
			t.Errorf("MAIL FROM answered %d: %v (kind %v), want a server failure", code, err, KindOf(err))
		}
	}
	srv.SetMailReply(0)
	srv.SetDown(true)
	if err := s.Send(ctx, plain("d", "d@example.com")); KindOf(err) != ServerFailure {
		t.Errorf("server down: %v (kind %v), want a server failure", err, KindOf(err))
	}
	if got := len(srv.Messages()); got != 1 {
		t.Errorf("server accepted %d messages, want 1", got)
	}
}

// TestWorkerPermanentFailureDoesNotBlock: a recipient refused for good is
// marked failed at once (logged, counted); the others are delivered.
func TestWorkerPermanentFailureDoesNotBlock(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RejectRcpt("gone@example.com", 550)
	s := newPoolSender(t, srv)
	ob := newFakeOutbox()
	for _, to := range []string{"a", "gone", "b", "c"} {
		ob.add(plain(to, to+"@example.com"), t0)
	}
	var mu sync.Mutex
	count := map[string]int{}
	hook := func(k string) func() { return func() { mu.Lock(); count[k]++; mu.Unlock() } }
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{OnSent: hook("sent"), OnFailed: hook("failed"), OnRetried: hook("retried")})
	sent, failed, err := w.RunOnce(context.Background())
	if sent != 3 || failed != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %d, %v; want 3, 1, nil", sent, failed, err)
	}
	if e := ob.get("gone"); !e.failed || e.msg.Attempts != 1 || e.lastError == "" {
		t.Errorf("refused message: %+v, want failed after one attempt with the error", e)
	}
	for _, id := range []string{"a", "b", "c"} {
		if !ob.get(id).sent {
			t.Errorf("%s not sent", id)
		}
	}
	if count["sent"] != 3 || count["failed"] != 1 || count["retried"] != 0 {
		t.Errorf("counters %v", count)
	}
}

// TestWorkerServerDownKeepsAttempts: while the server is down or refuses
// mail, messages wait and are never lost, and the outage uses up none of
// their attempts: the worker pauses with back-off, probes with one message,
// and sends everything once the server is back.
func TestWorkerServerDownKeepsAttempts(t *testing.T) {
	for _, mode := range []string{"down", "421", "451 on MAIL FROM"} {
		t.Run(mode, func(t *testing.T) {
			srv := smtptest.Start(t)
			refuse := func(on bool) {
				switch mode {
				case "down":
					srv.SetDown(on)
				case "421":
					srv.SetMailReply(map[bool]int{true: 421}[on])
				default:
					srv.SetMailReply(map[bool]int{true: 451}[on])
				}
			}
			refuse(true)
			s := newPoolSender(t, srv)
			ob := newFakeOutbox()
			const n = 8
			for i := range n {
				ob.add(plain(fmt.Sprintf("m%d", i), fmt.Sprintf("u%d@example.com", i)), t0)
			}
			clk := &clock{t: t0}
			var retried int
			var mu sync.Mutex
			w := NewWorker(ob, s, nil, clk.Now, WorkerOptions{MaxAttempts: 2, OnRetried: func() { mu.Lock(); retried++; mu.Unlock() }})
			w.jitter = exact
			ctx := context.Background()

			// Many more rounds than MaxAttempts: nothing gives up.
			for round := 1; round <= 5; round++ {
				if sent, failed, err := w.RunOnce(ctx); sent != 0 || failed != 0 || err != nil {
					t.Fatalf("round %d: RunOnce = %d, %d, %v; want nothing sent or failed", round, sent, failed, err)
				}
				until, _ := w.paused(clk.Now())
				if want := clk.Now().Add(ServerBackoff(round)); !until.Equal(want) {
					t.Fatalf("round %d: paused until %v, want %v", round, until, want)
				}
				// Paused: nothing is claimed before the pause ends.
				clk.Add(ServerBackoff(round) - time.Millisecond)
				if _, _, err := w.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				clk.Add(time.Millisecond)
			}
			for i := range n {
				e := ob.get(fmt.Sprintf("m%d", i))
				if e.sent || e.failed || e.msg.Attempts != 0 {
					t.Fatalf("m%d during the outage: sent=%v failed=%v attempts=%d; want waiting with no attempt used", i, e.sent, e.failed, e.msg.Attempts)
				}
			}
			// The first round may have tried up to Senders messages at once;
			// each later round probed with one.
			if retried < 5 || retried > PoolSize+4 {
				t.Errorf("%d retries counted over 5 rounds", retried)
			}

			refuse(false)
			for range 3 {
				if _, _, err := w.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				if e := ob.get(fmt.Sprintf("m%d", i)); !e.sent {
					t.Errorf("m%d not sent after the server came back: %+v", i, e)
				}
			}
			if got := len(srv.Messages()); got != n {
				t.Errorf("server received %d messages, want %d", got, n)
			}
		})
	}
}

// TestWorkerTemporaryFailureBacksOffWithJitter: a 4xx for one recipient
// retries that message after Backoff plus at most a fifth of it, and
// delivers the others.
func TestWorkerTemporaryFailureBacksOffWithJitter(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RejectRcpt("busy@example.com", 452)
	s := newPoolSender(t, srv)
	ob := newFakeOutbox()
	ob.add(plain("busy", "busy@example.com"), t0)
	ob.add(plain("ok", "ok@example.com"), t0)
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{})
	if sent, failed, err := w.RunOnce(context.Background()); sent != 1 || failed != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %d, %v; want 1, 1, nil", sent, failed, err)
	}
	e := ob.get("busy")
	if d := e.nextAttempt.Sub(t0); d < Backoff(1) || d > Backoff(1)+Backoff(1)/5 {
		t.Errorf("next attempt after %v, want between %v and %v", d, Backoff(1), Backoff(1)+Backoff(1)/5)
	}
	if e.msg.Attempts != 1 || e.failed {
		t.Errorf("busy: %+v", e)
	}
	if until, probe := w.paused(t0); !until.IsZero() || probe {
		t.Error("a refused recipient paused the outbox")
	}
	// Jitter spreads: not every delay is the same.
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[jitter(time.Minute)] = true
	}
	if len(seen) < 2 {
		t.Error("jitter adds nothing")
	}
	for d := range seen {
		if d < time.Minute || d > time.Minute+time.Minute/5 {
			t.Errorf("jitter(1m) = %v", d)
		}
	}
}

// TestWorkerShutdownReleases: at shutdown, claimed messages not yet sent
// are released at once and keep their attempts.
func TestWorkerShutdownReleases(t *testing.T) {
	ob := newFakeOutbox()
	for _, id := range []string{"a", "b", "c"} {
		ob.add(msg(id), t0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	s := senderFunc(func(context.Context, portal.OutboxMessage) error {
		once.Do(cancel)
		return nil // the message in flight is delivered
	})
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{Senders: 1})
	sent, _, err := w.RunOnce(ctx)
	if sent != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want the one in flight sent", sent, err)
	}
	var released []string
	for _, id := range []string{"a", "b", "c"} {
		e := ob.get(id)
		if e.sent {
			continue
		}
		if e.releases != 1 || e.msg.Attempts != 0 || !e.leaseUntil.IsZero() || !e.nextAttempt.Equal(t0) {
			t.Errorf("%s: %+v, want released now with no attempt used", id, e)
		}
		released = append(released, id)
	}
	if !slices.Equal(released, []string{"b", "c"}) {
		t.Errorf("released %v, want b and c", released)
	}
}

// TestWorkerLeaseNearlyOver: a message whose lease is nearly over when its
// turn comes (a slow server before it) is not begun and not touched: it
// may be another instance's by now. It is sent after its lease expires.
func TestWorkerLeaseNearlyOver(t *testing.T) {
	ob := newFakeOutbox()
	for _, id := range []string{"a", "b", "c"} {
		ob.add(msg(id), t0)
	}
	clk := &clock{t: t0}
	var got []string
	s := senderFunc(func(_ context.Context, m portal.OutboxMessage) error {
		got = append(got, m.ID)
		if m.ID == "a" {
			clk.Add(DefaultLease - leaseMargin + time.Second) // a very slow server
		}
		return nil
	})
	w := NewWorker(ob, s, nil, clk.Now, WorkerOptions{Senders: 1})
	if sent, _, err := w.RunOnce(context.Background()); sent != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want only a sent", sent, err)
	}
	for _, id := range []string{"b", "c"} {
		if e := ob.get(id); e.sent || e.releases != 0 || e.leaseUntil.IsZero() {
			t.Errorf("%s: %+v, want left alone under its lease", id, e)
		}
	}
	if sent, _, _ := w.RunOnce(context.Background()); sent != 0 {
		t.Fatal("sent under another lease")
	}
	clk.Add(leaseMargin)
	if sent, _, _ := w.RunOnce(context.Background()); sent != 2 {
		t.Fatalf("after the lease: sent %d, want 2", sent)
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("sent %v", got)
	}
}

// TestSMTPFailedSessionClosesConnection: a session that fails to start
// (here STARTTLS is required and the server does not offer it) is a server
// failure, and its connection is closed at once rather than left open.
func TestSMTPFailedSessionClosesConnection(t *testing.T) {
	srv := smtptest.Start(t)
	cfg, err := parseSMTPURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.security = securityStartTLS // as for smtp://mail.example.com
	from, _ := parseFrom(defaultFrom)
	s, err := newSMTPSender(cfg, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Send(context.Background(), plain("a", "a@example.com")); KindOf(err) != ServerFailure {
			t.Fatalf("no STARTTLS: %v (kind %v), want a server failure", err, KindOf(err))
		}
	}
	for i := 0; srv.Open() > 0; i++ { // the server notices the close (bounded wait)
		if i == 500 {
			t.Fatalf("%d connections left open after failed sessions", srv.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if open, _, _ := s.openConns(); open != 0 {
		t.Errorf("pool holds %d connections", open)
	}
}
