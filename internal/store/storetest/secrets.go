package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal/internal/store"
)

// testSealed: SealedNotUnder lists the sealed values of each kind that do
// not begin with the prefix, in pages by id; Reseal replaces a value only
// while it is still the one read (a re-enrolment meanwhile wins), and a
// re-sealed value is no longer listed.
func testSealed(t *testing.T, db *store.DB) {
	ctx := context.Background()
	const cur = "v2.aaaaaaaa."
	var users []string
	for i, secret := range []string{cur + "x", "old-1", "v2.bbbbbbbb.y", "old-2"} {
		u := mkUser(t, db, "sealed"+string(rune('a'+i))+"@example.com")
		mkTwoFactor(t, db, u, secret, i%2 == 0)
		users = append(users, u.ID)
	}
	flow := &store.OAuthFlow{ID: uuid.NewString(), Purpose: "login", Provider: "google", StateHash: uuid.NewString(), BrowserHash: "b",
		Nonce: "n", Verifier: "v2.bbbbbbbb.z", Created: t0, Expires: t0.Add(10 * time.Minute)}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOAuthFlow(ctx, flow) })

	var listed []store.SealedValue
	for after := ""; ; {
		page, err := db.SealedNotUnder(ctx, store.SealedTwoFactor, cur, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	want := map[string]string{users[1]: "old-1", users[2]: "v2.bbbbbbbb.y", users[3]: "old-2"}
	if len(listed) != len(want) {
		t.Fatalf("two-factor secrets not under %s: %+v; want %v", cur, listed, want)
	}
	for i, v := range listed {
		if want[v.ID] != v.Sealed || i > 0 && listed[i-1].ID >= v.ID {
			t.Fatalf("two-factor secrets not under %s: %+v; want %v in the order of ids", cur, listed, want)
		}
	}
	flows, err := db.SealedNotUnder(ctx, store.SealedOAuthFlow, cur, "", 10)
	if err != nil || len(flows) != 1 || flows[0].ID != flow.ID || flows[0].Sealed != flow.Verifier {
		t.Fatalf("oauth flows: %+v, %v", flows, err)
	}

	reseal := func(kind store.SealedKind, id, old, resealed string) bool {
		t.Helper()
		var ok bool
		write(t, db, func(tx *store.Tx) (err error) { ok, err = tx.Reseal(ctx, kind, id, old, resealed); return err })
		return ok
	}
	if !reseal(store.SealedTwoFactor, users[1], "old-1", cur+"1") || !reseal(store.SealedOAuthFlow, flow.ID, flow.Verifier, cur+"z") {
		t.Fatal("Reseal of the value read changed nothing")
	}
	// users[3] enrolled again after the value was read: not overwritten.
	write(t, db, func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, users[3], "newer", t0) })
	if reseal(store.SealedTwoFactor, users[3], "old-2", cur+"2") {
		t.Fatal("Reseal overwrote a value changed since it was read")
	}
	if reseal(store.SealedTwoFactor, uuid.NewString(), "old-2", cur+"2") {
		t.Fatal("Reseal of no row reported a change")
	}
	tf, err := db.GetTwoFactor(ctx, users[1])
	if err != nil || tf.Secret != cur+"1" || tf.Verified {
		t.Fatalf("after Reseal: %+v, %v (verified must stay as it was)", tf, err)
	}
	if tf, _ := db.GetTwoFactor(ctx, users[3]); tf.Secret != "newer" {
		t.Fatalf("the newer enrolment: %+v", tf)
	}
	left, err := db.SealedNotUnder(ctx, store.SealedTwoFactor, cur, "", 10)
	if err != nil || len(left) != 2 || left[0].Sealed == cur+"1" || left[1].Sealed == cur+"1" {
		t.Fatalf("left after Reseal: %+v, %v", left, err)
	}
	if flows, err := db.SealedNotUnder(ctx, store.SealedOAuthFlow, cur, "", 10); err != nil || len(flows) != 0 {
		t.Fatalf("oauth flows after Reseal: %+v, %v", flows, err)
	}
}
