package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portal"
)

// fakeOutbox is an in-memory Outbox with the store's semantics.
type fakeOutbox struct {
	mu       sync.Mutex
	msgs     map[string]*fakeEntry
	order    []string
	claimErr error
	markErr  error
	instance string
}

type fakeEntry struct {
	msg         portal.OutboxMessage
	nextAttempt time.Time
	leaseUntil  time.Time
	owner       string
	sent        bool
	sentTime    time.Time
	failed      bool // given up
	lastError   string
	failedMarks int
	releases    int
}

func newFakeOutbox() *fakeOutbox { return &fakeOutbox{msgs: map[string]*fakeEntry{}, instance: "test"} }

func (o *fakeOutbox) add(m portal.OutboxMessage, due time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs[m.ID] = &fakeEntry{msg: m, nextAttempt: due}
	o.order = append(o.order, m.ID)
}

func (o *fakeOutbox) get(id string) fakeEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.msgs[id]
}

func (o *fakeOutbox) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]portal.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.claimErr != nil {
		return nil, o.claimErr
	}
	var out []portal.OutboxMessage
	for _, id := range o.order {
		e := o.msgs[id]
		if len(out) == limit {
			break
		}
		if e.sent || e.failed || e.nextAttempt.After(now) || e.leaseUntil.After(now) {
			continue
		}
		e.leaseUntil = now.Add(lease)
		e.owner = o.instance
		e.msg.Attempts++
		out = append(out, e.msg)
	}
	return out, nil
}

func (o *fakeOutbox) MarkSent(ctx context.Context, id string, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	e := o.msgs[id]
	e.sent, e.sentTime, e.leaseUntil = true, now, time.Time{}
	return nil
}

func (o *fakeOutbox) MarkFailed(ctx context.Context, id string, nextAttempt time.Time, lastError string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	e := o.msgs[id]
	e.nextAttempt, e.lastError, e.leaseUntil = nextAttempt, lastError, time.Time{}
	e.failedMarks++
	return nil
}

func (o *fakeOutbox) TakeBack(ctx context.Context, now time.Time) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, e := range o.msgs {
		if !e.sent && !e.failed && e.owner == o.instance && e.leaseUntil.After(now) {
			e.leaseUntil = time.Time{}
			n++
		}
	}
	return n, nil
}

func (o *fakeOutbox) Release(ctx context.Context, id string, nextAttempt time.Time, lastError string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	e := o.msgs[id]
	e.nextAttempt, e.lastError, e.leaseUntil = nextAttempt, lastError, time.Time{}
	e.msg.Attempts--
	e.releases++
	return nil
}

func (o *fakeOutbox) GiveUp(ctx context.Context, id string, now time.Time, lastError string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	e := o.msgs[id]
	e.failed, e.lastError, e.leaseUntil = true, lastError, time.Time{}
	return nil
}

// fakeSender records messages and fails with err when set.
type fakeSender struct {
	mu   sync.Mutex
	err  error
	got  []portal.OutboxMessage
	sent chan portal.OutboxMessage // if non-nil, receives each delivered message
}

func (s *fakeSender) Send(ctx context.Context, m portal.OutboxMessage) error {
	s.mu.Lock()
	err := s.err
	s.got = append(s.got, m)
	s.mu.Unlock()
	if err == nil && s.sent != nil {
		s.sent <- m
	}
	return err
}

func (s *fakeSender) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// exact is a jitter that adds nothing, for tests that check times.
func exact(d time.Duration) time.Duration { return d }

func msg(id string) portal.OutboxMessage {
	return portal.OutboxMessage{ID: id, To: id + "@example.com", Subject: "Subject " + id, Text: "Body " + id, CreatedTime: t0}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 30 * time.Second},
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{4, 4 * time.Minute},
		{5, 8 * time.Minute},
		{6, 16 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour},
		{9, time.Hour},
		{100, time.Hour},
		{math.MaxInt, time.Hour},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestWorkerSendsDueMessage(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	ob := newFakeOutbox()
	ob.add(msg("due"), t0)
	ob.add(msg("later"), t0.Add(time.Minute))
	s := &fakeSender{}
	var onSent, onFailed int
	w := NewWorker(ob, s, nil, clk.Now, WorkerOptions{OnSent: func() { onSent++ }, OnFailed: func() { onFailed++ }})

	sent, failed, err := w.RunOnce(ctx)
	if err != nil || sent != 1 || failed != 0 {
		t.Fatalf("RunOnce = %d, %d, %v; want 1, 0, nil", sent, failed, err)
	}
	if len(s.got) != 1 || s.got[0].ID != "due" || s.got[0].Text != "Body due" || s.got[0].Attempts != 1 {
		t.Fatalf("sender got %+v", s.got)
	}
	if e := ob.get("due"); !e.sent || !e.sentTime.Equal(t0) {
		t.Errorf("due: sent=%v at %v, want sent at %v", e.sent, e.sentTime, t0)
	}
	if e := ob.get("later"); e.sent || e.msg.Attempts != 0 {
		t.Errorf("later: claimed before it is due: %+v", e)
	}
	if onSent != 1 || onFailed != 0 {
		t.Errorf("hooks: sent %d failed %d", onSent, onFailed)
	}

	// Nothing more is due until the clock reaches "later".
	if sent, failed, err := w.RunOnce(ctx); sent != 0 || failed != 0 || err != nil {
		t.Fatalf("second RunOnce = %d, %d, %v", sent, failed, err)
	}
	clk.Add(time.Minute)
	if sent, _, _ := w.RunOnce(ctx); sent != 1 {
		t.Fatalf("after a minute: sent %d, want 1", sent)
	}
	if len(s.got) != 2 {
		t.Errorf("sent %d messages in all, want 2 (no duplicates)", len(s.got))
	}
}

func TestWorkerBatch(t *testing.T) {
	ob := newFakeOutbox()
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ob.add(msg(id), t0)
	}
	s := &fakeSender{}
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{Batch: 2})
	if sent, _, _ := w.RunOnce(context.Background()); sent != 2 {
		t.Fatalf("RunOnce sent %d, want the batch size 2", sent)
	}
	w.drain(context.Background())
	if len(s.got) != 5 {
		t.Fatalf("drain: sent %d in all, want 5", len(s.got))
	}
}

func TestWorkerFailureBacksOff(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	ob := newFakeOutbox()
	ob.add(msg("m"), t0)
	s := &fakeSender{err: errors.New("451 try again later")}
	var onFailed, onRetried int
	w := NewWorker(ob, s, nil, clk.Now, WorkerOptions{OnFailed: func() { onFailed++ }, OnRetried: func() { onRetried++ }})
	w.jitter = exact

	sent, failed, err := w.RunOnce(ctx)
	if err != nil || sent != 0 || failed != 1 {
		t.Fatalf("RunOnce = %d, %d, %v; want 0, 1, nil", sent, failed, err)
	}
	e := ob.get("m")
	if e.sent || !e.nextAttempt.Equal(t0.Add(Backoff(1))) || !e.nextAttempt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after attempt 1: sent=%v next=%v, want next %v", e.sent, e.nextAttempt, t0.Add(30*time.Second))
	}
	if !strings.Contains(e.lastError, "451 try again later") {
		t.Errorf("lastError = %q", e.lastError)
	}
	if onRetried != 1 || onFailed != 0 {
		t.Errorf("OnRetried called %d times, OnFailed %d; want 1, 0", onRetried, onFailed)
	}

	// Not retried before the backoff has passed.
	clk.Add(29 * time.Second)
	if _, failed, _ := w.RunOnce(ctx); failed != 0 {
		t.Fatal("retried before the backoff")
	}
	clk.Add(time.Second)
	if _, failed, _ := w.RunOnce(ctx); failed != 1 {
		t.Fatal("not retried after the backoff")
	}
	e = ob.get("m")
	if want := clk.Now().Add(time.Minute); e.msg.Attempts != 2 || !e.nextAttempt.Equal(want) {
		t.Fatalf("after attempt 2: attempts=%d next=%v, want 2, %v", e.msg.Attempts, e.nextAttempt, want)
	}

	// The server recovers: the next attempt delivers.
	s.setErr(nil)
	clk.Add(time.Minute)
	if sent, _, _ := w.RunOnce(ctx); sent != 1 || !ob.get("m").sent {
		t.Fatal("not delivered after recovery")
	}
}

func TestWorkerGivesUp(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	ob := newFakeOutbox()
	ob.add(msg("m"), t0)
	s := &fakeSender{err: errors.New("550 5.1.1 <m@example.com>: no such user")}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var onFailed, onRetried int
	w := NewWorker(ob, s, logger, clk.Now, WorkerOptions{MaxAttempts: 3, OnFailed: func() { onFailed++ }, OnRetried: func() { onRetried++ }})
	w.jitter = exact

	for attempt := 1; attempt <= 3; attempt++ {
		if _, failed, err := w.RunOnce(ctx); failed != 1 || err != nil {
			t.Fatalf("attempt %d: failed=%d err=%v", attempt, failed, err)
		}
		e := ob.get("m")
		if e.msg.Attempts != attempt {
			t.Fatalf("attempts = %d, want %d", e.msg.Attempts, attempt)
		}
		if attempt < 3 {
			if want := clk.Now().Add(Backoff(attempt)); !e.nextAttempt.Equal(want) {
				t.Fatalf("attempt %d: next %v, want %v", attempt, e.nextAttempt, want)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Fatalf("error logged before giving up:\n%s", logs.String())
			}
			clk.Add(Backoff(attempt))
		}
	}
	if e := ob.get("m"); !e.failed || e.sent {
		t.Errorf("after giving up: failed=%v sent=%v, want failed", e.failed, e.sent)
	}
	if onFailed != 1 || onRetried != 2 {
		t.Errorf("OnFailed %d, OnRetried %d; want 1, 2", onFailed, onRetried)
	}
	// The log names the message and the recipient's domain, never the
	// address, not even inside the server's reply.
	if strings.Contains(logs.String(), "m@example.com") || !strings.Contains(logs.String(), "to_domain=example.com") ||
		!strings.Contains(logs.String(), "<address>>: no such user") {
		t.Errorf("the log should name the domain and hide the address:\n%s", logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "giving up") || !strings.Contains(out, "no such user") {
		t.Errorf("give-up not logged at error level:\n%s", out)
	}
	// Never tried again.
	clk.Add(1000 * time.Hour)
	if _, failed, _ := w.RunOnce(ctx); failed != 0 || len(s.got) != 3 {
		t.Errorf("retried after giving up: %d sends", len(s.got))
	}
}

func TestWorkerOutboxErrors(t *testing.T) {
	ctx := context.Background()
	ob := newFakeOutbox()
	ob.claimErr = errors.New("database is down")
	w := NewWorker(ob, &fakeSender{}, nil, nil, WorkerOptions{})
	if _, _, err := w.RunOnce(ctx); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Errorf("claim error: %v", err)
	}

	ob = newFakeOutbox()
	ob.add(msg("m"), time.Time{})
	ob.markErr = errors.New("write failed")
	s := &fakeSender{}
	w = NewWorker(ob, s, nil, nil, WorkerOptions{})
	sent, _, err := w.RunOnce(ctx)
	if sent != 1 || err == nil || !strings.Contains(err.Error(), "write failed") {
		t.Errorf("mark error: sent=%d err=%v; want 1 and the error", sent, err)
	}
}

func TestWorkerCanceledSendNotMarked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ob := newFakeOutbox()
	ob.add(msg("a"), t0)
	ob.add(msg("b"), t0)
	s := senderFunc(func(ctx context.Context, m portal.OutboxMessage) error {
		cancel() // shutdown while sending
		return ctx.Err()
	})
	w := NewWorker(ob, s, nil, func() time.Time { return t0 }, WorkerOptions{})
	sent, failed, err := w.RunOnce(ctx)
	if sent != 0 || failed != 0 || err != nil {
		t.Fatalf("RunOnce = %d, %d, %v; want 0, 0, nil", sent, failed, err)
	}
	for _, id := range []string{"a", "b"} {
		if e := ob.get(id); e.failedMarks != 0 || e.sent {
			t.Errorf("%s marked after shutdown: %+v", id, e)
		}
	}
}

type senderFunc func(context.Context, portal.OutboxMessage) error

func (f senderFunc) Send(ctx context.Context, m portal.OutboxMessage) error { return f(ctx, m) }

func TestWorkerRunAndWake(t *testing.T) {
	ob := newFakeOutbox()
	s := &fakeSender{sent: make(chan portal.OutboxMessage, 10)}
	// A long interval: only Wake can make the second message go out in time.
	w := NewWorker(ob, s, nil, nil, WorkerOptions{Interval: time.Hour})
	ob.add(msg("first"), time.Time{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()

	wait := func(id string) {
		t.Helper()
		select {
		case m := <-s.sent:
			if m.ID != id {
				t.Fatalf("sent %q, want %q", m.ID, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q not sent", id)
		}
	}
	wait("first") // Run processes the outbox when it starts.
	// "second" is queued after that pass claimed its batch.
	ob.add(msg("second"), time.Time{})
	w.Wake()
	w.Wake() // never blocks
	wait("second")
	var got []string
	s.mu.Lock()
	for _, m := range s.got {
		got = append(got, m.ID)
	}
	s.mu.Unlock()
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("sent %v", got)
	}
}

// TestWorkerLogSenderCountsLogged: with no SMTP server the messages are
// logged once ("mail: not sent"), counted as logged rather than sent, and
// done with.
func TestWorkerLogSenderCountsLogged(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	s, err := NewSender("", "Portal <no-reply@localhost>", logger)
	if err != nil {
		t.Fatal(err)
	}
	ob := newFakeOutbox()
	ob.add(msg("m1"), t0)
	clk := &clock{t: t0}
	var onSent, onLogged, onFailed int
	w := NewWorker(ob, s, logger, clk.Now, WorkerOptions{OnSent: func() { onSent++ }, OnLogged: func() { onLogged++ }, OnFailed: func() { onFailed++ }})
	buf.Reset()
	if sent, failed, err := w.RunOnce(ctx); sent != 1 || failed != 0 || err != nil {
		t.Fatalf("RunOnce = %d, %d, %v", sent, failed, err)
	}
	if onSent != 0 || onLogged != 1 || onFailed != 0 {
		t.Errorf("hooks: sent %d logged %d failed %d; want 0 1 0", onSent, onLogged, onFailed)
	}
	if e := ob.get("m1"); !e.sent {
		t.Error("a logged message stays due")
	}
	out := buf.String()
	if !strings.Contains(out, "mail: not sent") || strings.Contains(out, "mail: sent") {
		t.Errorf("log:\n%s", out)
	}
}
