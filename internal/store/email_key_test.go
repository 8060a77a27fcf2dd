package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestEmailKey: addresses are compared in Go (store.EmailKey), the same on
// both databases: in any ASCII case, but a character outside ASCII that
// lower-cases to an ASCII letter (Kelvin sign, U+0130) is never folded onto
// that letter, so it can neither find nor take another account's address.
func TestEmailKey(t *testing.T) {
	for in, want := range map[string]string{
		"Ann@Example.COM":       "ann@example.com",
		"ÄNN@Example.de":        "änn@example.de",
		"\u212Aate@example.com": "\u212Aate@example.com",
		"\u0130nes@example.com": "\u0130nes@example.com",
	} {
		if got := store.EmailKey(in); got != want {
			t.Errorf("EmailKey(%q) = %q, want %q", in, got, want)
		}
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		create := func(email string) (*portal.User, error) {
			now := time.Now().UTC()
			u := &portal.User{ID: uuid.NewString(), Email: email, FirstName: "A", LastName: "B", PasswordHash: "x", EmailVerified: true,
				PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
			return u, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, u) })
		}
		kate, err := create("kate@example.com")
		if err != nil {
			t.Fatal(err)
		}
		bob, err := create("Bob@Example.COM") // a row from before addresses were normalised
		if err != nil {
			t.Fatal(err)
		}
		for addr, want := range map[string]*portal.User{
			"kate@example.com": kate, "KATE@EXAMPLE.COM": kate, "bob@example.com": bob, "BOB@example.com": bob,
			"\u212Aate@example.com": nil, "\u212AATE@EXAMPLE.COM": nil,
		} {
			u, err := db.GetUserByEmail(ctx, addr)
			switch {
			case want == nil && portal.ErrorCode(err) != portal.ENOTFOUND:
				t.Errorf("GetUserByEmail(%q) = %v, %v; want not found", addr, u, err)
			case want != nil && (err != nil || u.ID != want.ID):
				t.Errorf("GetUserByEmail(%q) = %v, %v; want %s", addr, u, err, want.Email)
			}
		}
		if _, err := create("KATE@example.com"); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("a second kate@example.com in capitals: %v, want ErrDuplicate", err)
		}
	})
}
