package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestOutboxMarkSentClearsBodies: a sent message, or one failed for good,
// keeps no body, since the bodies hold live single-use links; an unsent
// one keeps them.
func TestOutboxMarkSentClearsBodies(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		now := time.Now().UTC().Truncate(time.Millisecond)
		sent, kept, failed := uuid.NewString(), uuid.NewString(), uuid.NewString()
		err := db.Write(ctx, func(tx *store.Tx) error {
			for _, id := range []string{sent, kept, failed} {
				if err := tx.EnqueueMail(ctx, &portal.OutboxMessage{ID: id, To: "a@example.com", Subject: "s",
					Text: "https://portal.example/verify?token=secret", HTML: "<a href=\"https://portal.example/verify?token=secret\">x</a>", CreatedTime: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := (store.Outbox{DB: db}).MarkSent(ctx, sent, now); err != nil {
			t.Fatal(err)
		}
		if err := (store.Outbox{DB: db}).GiveUp(ctx, failed, now, "550 no such user"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{sent, failed} {
			text, html, err := store.OutboxBodies(ctx, db, id)
			if err != nil {
				t.Fatal(err)
			}
			if text != "" || html != "" {
				t.Errorf("sent or failed message keeps its bodies: text %q, html %q", text, html)
			}
		}
		text, html, err := store.OutboxBodies(ctx, db, kept)
		if err != nil {
			t.Fatal(err)
		}
		if text == "" || html == "" {
			t.Errorf("unsent message lost its bodies: text %q, html %q", text, html)
		}
		if n, err := db.PendingMail(ctx); err != nil || n != 1 {
			t.Errorf("pending = %d, %v; want 1", n, err)
		}
	})
}
