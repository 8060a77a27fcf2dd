package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkMail(i int, created time.Time) *portal.OutboxMessage {
	return &portal.OutboxMessage{ID: newID(), To: fmt.Sprintf("user%d@example.com", i), Subject: fmt.Sprintf("Subject %d é", i),
		Text: fmt.Sprintf("text %d", i), HTML: fmt.Sprintf("<p>html %d</p>", i), CreatedTime: created}
}

func enqueue(t *testing.T, db *store.DB, m *portal.OutboxMessage) {
	t.Helper()
	write(t, db, func(tx *store.Tx) error { return tx.EnqueueMail(context.Background(), m) })
}

func pending(t *testing.T, db *store.DB) int {
	t.Helper()
	n, err := db.PendingMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func claim(t *testing.T, ob store.Outbox, now time.Time, lease time.Duration, limit int) []portal.OutboxMessage {
	t.Helper()
	got, err := ob.ClaimDue(context.Background(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimDue(%v): %v", now, err)
	}
	return got
}

func ids(msgs []portal.OutboxMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func testEnqueueRollback(t *testing.T, db *store.DB) {
	ctx := context.Background()
	err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.EnqueueMail(ctx, mkMail(1, t0)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Write = %v, want the function's error", err)
	}
	if n := pending(t, db); n != 0 {
		t.Fatalf("PendingMail = %d after a rolled-back EnqueueMail", n)
	}
	if got := claim(t, store.Outbox{DB: db}, t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %d messages of a rolled-back transaction", len(got))
	}
	m := mkMail(2, t0)
	enqueue(t, db, m)
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d, want 1", n)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.EnqueueMail(ctx, m) })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("EnqueueMail with a taken id: %v, want ErrDuplicate", err)
	}
}

func testClaimDue(t *testing.T, db *store.DB) {
	ob := store.Outbox{DB: db}
	m1, m2, m3 := mkMail(1, t0), mkMail(2, t0.Add(time.Second)), mkMail(3, t0.Add(2*time.Second))
	for _, m := range []*portal.OutboxMessage{m3, m1, m2} {
		enqueue(t, db, m)
	}
	if n := pending(t, db); n != 3 {
		t.Fatalf("PendingMail = %d, want 3", n)
	}
	lease := time.Minute
	if got := claim(t, ob, t0.Add(-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed %v before anything was due", ids(got))
	}
	// Due messages, oldest first, up to the limit.
	now := t0.Add(time.Second)
	got := claim(t, ob, now, lease, 1)
	if len(got) != 1 || got[0].ID != m1.ID {
		t.Fatalf("ClaimDue(limit 1) = %v, want [%s]", ids(got), m1.ID)
	}
	want := *m1
	want.Attempts = 1
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("claimed message = %+v\nwant %+v", got[0], want)
	}
	got = claim(t, ob, now, lease, 10)
	if len(got) != 1 || got[0].ID != m2.ID || got[0].Attempts != 1 {
		t.Fatalf("ClaimDue = %+v, want m2 only (m1 is leased, m3 not due)", got)
	}
	got = claim(t, ob, t0.Add(2*time.Second), lease, 10)
	if len(got) != 1 || got[0].ID != m3.ID {
		t.Fatalf("ClaimDue = %v, want m3 only", ids(got))
	}
	// Leased messages are not claimed again before the lease ends…
	if got := claim(t, ob, now.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed leased messages %v", ids(got))
	}
	if n := pending(t, db); n != 3 {
		t.Fatalf("PendingMail = %d while leased, want 3", n)
	}
	// …and are claimed again once it has (a crashed sender), counting the attempt.
	got = claim(t, ob, now.Add(lease), lease, 10)
	if !reflect.DeepEqual(ids(got), []string{m1.ID, m2.ID}) {
		t.Fatalf("after the lease: %v, want m1 and m2", ids(got))
	}
	for _, m := range got {
		if m.Attempts != 2 {
			t.Errorf("%s: Attempts = %d, want 2", m.ID, m.Attempts)
		}
	}
}

func testMarkSentFailed(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ob := store.Outbox{DB: db}
	m1, m2 := mkMail(1, t0), mkMail(2, t0)
	enqueue(t, db, m1)
	enqueue(t, db, m2)
	lease := time.Minute
	if got := claim(t, ob, t0, lease, 10); len(got) != 2 {
		t.Fatalf("claimed %d, want 2", len(got))
	}
	if err := ob.MarkSent(ctx, m1.ID, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d after MarkSent, want 1", n)
	}
	next := t0.Add(10 * time.Minute)
	if err := ob.MarkFailed(ctx, m2.ID, next, "451 try later"); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 1 {
		t.Fatalf("PendingMail = %d after MarkFailed, want 1", n)
	}
	// The failed message waits for its next attempt even though its lease
	// was released; the sent one never comes back.
	if got := claim(t, ob, next.Add(-time.Millisecond), lease, 10); len(got) != 0 {
		t.Fatalf("claimed %v before the next attempt", ids(got))
	}
	got := claim(t, ob, next, lease, 10)
	if len(got) != 1 || got[0].ID != m2.ID || got[0].Attempts != 2 {
		t.Fatalf("at the next attempt: %+v, want m2 with 2 attempts", got)
	}
	if err := ob.MarkSent(ctx, m2.ID, next); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 0 {
		t.Fatalf("PendingMail = %d, want 0", n)
	}
	if got := claim(t, ob, next.Add(24*time.Hour), lease, 10); len(got) != 0 {
		t.Fatalf("sent messages claimed again: %v", ids(got))
	}
}

func testClaimConcurrent(t *testing.T, db *store.DB) {
	const msgs, workers = 40, 8
	for i := range msgs {
		enqueue(t, db, mkMail(i, t0))
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]int{}
		start   = make(chan struct{})
	)
	for range workers {
		wg.Go(func() {
			<-start
			for {
				got, err := store.Outbox{DB: db}.ClaimDue(context.Background(), t0, time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					claimed[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(claimed) != msgs {
		t.Errorf("%d messages claimed, want %d", len(claimed), msgs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %s claimed %d times under one lease", id, n)
		}
	}
}

// testOutboxOwner: leases carry the instance's name, so that the instance
// takes its own claims back (TakeBack) and nobody else's; Release gives
// back the attempt; GiveUp ends a message for good.
func testOutboxOwner(t *testing.T, db *store.DB) {
	ctx := context.Background()
	a, b := store.Outbox{DB: db, Instance: "host-a:/data"}, store.Outbox{DB: db, Instance: "host-b:/data"}
	m1, m2, m3 := mkMail(1, t0), mkMail(2, t0.Add(time.Millisecond)), mkMail(3, t0.Add(2*time.Millisecond))
	for _, m := range []*portal.OutboxMessage{m1, m2, m3} {
		enqueue(t, db, m)
	}
	lease := time.Hour
	if got := claim(t, a, t0.Add(time.Second), lease, 10); len(got) != 3 {
		t.Fatalf("a claimed %v, want 3", ids(got))
	}
	// b takes nothing back: the claims are a's, and under lease.
	if n, err := b.TakeBack(ctx, t0.Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("b.TakeBack = %d, %v; want 0", n, err)
	}
	if got := claim(t, b, t0.Add(time.Second), lease, 10); len(got) != 0 {
		t.Fatalf("b claimed a's leased messages %v", ids(got))
	}
	// Release gives the attempt back.
	if err := a.Release(ctx, m1.ID, t0.Add(time.Second), "SMTP server away"); err != nil {
		t.Fatal(err)
	}
	got := claim(t, b, t0.Add(time.Second), lease, 10)
	if len(got) != 1 || got[0].ID != m1.ID || got[0].Attempts != 1 {
		t.Fatalf("after Release: b claimed %+v, want m1 at its first attempt", got)
	}
	// GiveUp: never claimed again, not pending (bodies cleared:
	// TestOutboxMarkSentClearsBodies).
	if err := a.GiveUp(ctx, m2.ID, t0.Add(time.Second), "550 no such user"); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, db); n != 2 {
		t.Errorf("PendingMail = %d, want 2 (m1, m3)", n)
	}
	depth, oldest, err := db.MailQueue(ctx)
	if err != nil || depth != 2 || !oldest.Equal(m1.CreatedTime) {
		t.Errorf("MailQueue = %d, %v, %v; want 2, %v", depth, oldest, err, m1.CreatedTime)
	}
	// A restarted a takes back its one remaining claim (m3) at once.
	if n, err := (store.Outbox{DB: db, Instance: a.Instance}).TakeBack(ctx, t0.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("a.TakeBack = %d, %v; want 1", n, err)
	}
	got = claim(t, b, t0.Add(2*time.Second), lease, 10)
	if len(got) != 1 || got[0].ID != m3.ID || got[0].Attempts != 2 {
		t.Fatalf("after TakeBack: claimed %+v, want m3 at its second attempt", got)
	}
	if got := claim(t, a, t0.Add(100*lease), lease, 10); len(got) != 2 {
		t.Fatalf("after the leases: claimed %v, want m1 and m3 (not the failed m2)", ids(got))
	}
	if n, err := (store.Outbox{DB: db}).TakeBack(ctx, t0); err != nil || n != 0 {
		t.Errorf("TakeBack without an instance = %d, %v; want 0", n, err)
	}
	for _, m := range []*portal.OutboxMessage{m1, m3} {
		if err := a.MarkSent(ctx, m.ID, t0.Add(100*lease)); err != nil {
			t.Fatal(err)
		}
	}
	if depth, oldest, err := db.MailQueue(ctx); err != nil || depth != 0 || !oldest.IsZero() {
		t.Errorf("MailQueue = %d, %v, %v; want 0, zero", depth, oldest, err)
	}
}
