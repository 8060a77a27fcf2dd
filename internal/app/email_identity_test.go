package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestEmailIdentity: an address is one account's in one normalised form.
// A Kelvin sign (U+212A) or a dotted capital I (U+0130), which lower-case
// to ASCII letters, cannot log in as, sign up over, or accept an invitation
// meant for another address; "Ann@Example.COM" is stored as
// "ann@example.com"; rows stored before normalisation with capitals are
// still found, with any case.
func TestEmailIdentity(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		h := authn.NewHasher(64, 1, 1, 2)
		db, svc := newSecurityService(t, d, h)
		hash, err := h.Hash(ctx, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		kate := createUserWithHash(t, db, "kate@example.com", hash)
		ines := createUserWithHash(t, db, "ines@example.com", hash)
		bob := createUserWithHash(t, db, "Bob@Example.COM", hash) // stored before addresses were normalised
		boss := createUserWithHash(t, db, "boss@example.com", hash)
		c := app.Client{IP: "198.51.100.7"}

		for _, tc := range []struct {
			email string
			want  *portal.User // nil: refused
		}{
			{"\u212Aate@example.com", nil},
			{"\u212AATE@EXAMPLE.COM", nil},
			{"\u0130nes@example.com", nil},
			{"KATE@example.com", kate},
			{"ines@EXAMPLE.com", ines},
			{"bob@example.com", bob},
			{"BOB@EXAMPLE.COM", bob},
			{"Bob@Example.COM", bob},
		} {
			res, err := svc.Login(ctx, tc.email, testPassword, c)
			switch {
			case tc.want == nil && !errors.Is(err, app.ErrBadCredentials):
				t.Errorf("login as %q: %v, want bad credentials", tc.email, err)
			case tc.want != nil && (err != nil || res.User.ID != tc.want.ID):
				t.Errorf("login as %q: %v, want %s", tc.email, err, tc.want.Email)
			}
		}
		// The store never folds them onto the ASCII address either.
		for _, addr := range []string{"\u212Aate@example.com", "\u0130nes@example.com"} {
			if u, err := db.GetUserByEmail(ctx, addr); portal.ErrorCode(err) != portal.ENOTFOUND {
				t.Errorf("GetUserByEmail(%q) = %v, %v; want not found", addr, u, err)
			}
		}

		// Sign-up: refused with a message naming the character; a normal
		// address is stored normalised.
		for addr, char := range map[string]string{"\u212Aate@example.com": "U+212A", "\u0130nes@example.com": "U+0130"} {
			err := svc.Register(ctx, app.RegisterInput{Email: addr, FirstName: "Eve", LastName: "Mallory", Password: "Quartz violin meadow 42"}, c)
			if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), char) {
				t.Errorf("sign-up as %q: %v, want 400 naming %s", addr, err, char)
			}
		}
		if err := svc.Register(ctx, app.RegisterInput{Email: "  Ann@Example.COM ", FirstName: "Ann", LastName: "Lee", Password: "Quartz violin meadow 42"}, c); err != nil {
			t.Fatal(err)
		}
		r, err := db.LatestRegistration(ctx, "ANN@example.com")
		if err != nil || r.Email != "ann@example.com" {
			t.Errorf("registration of Ann@Example.COM: %+v, %v; want it stored as ann@example.com", r, err)
		}

		// Invitations: to a look-alike address, refused.
		bossActor := actor(t, svc, "boss@example.com")
		name := "Acme"
		org, err := svc.CreateOrg(ctx, bossActor, app.OrgInput{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Invite(ctx, bossActor, org.ID, app.InviteInput{Email: "\u212Aate@example.com", FirstName: "Kate", LastName: "Lee",
			Privileges: []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: portal.RoleRead}}})
		if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), "U+212A") {
			t.Errorf("invitation of the Kelvin address: %v, want 400", err)
		}
		// An invitation stored before this rule, to the Kelvin address, is
		// not Kate's to accept.
		token, err := authn.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		inv := &store.Invite{ID: uuid.NewString(), OrgID: org.ID, Email: "\u212Aate@example.com", FirstName: "Kate", LastName: "Lee",
			Scope: portal.ScopeOrg, Role: portal.RoleAdmin, TokenHash: authn.HashToken(token), InvitedBy: boss.ID, InvitedByName: "Boss",
			Hours: 168, Created: now, Modified: now, Expires: now.Add(7 * 24 * time.Hour)}
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateInvite(ctx, inv) }); err != nil {
			t.Fatal(err)
		}
		kateActor := actor(t, svc, "kate@example.com")
		if _, err := svc.AcceptInvite(ctx, kateActor, token); portal.ErrorCode(err) != portal.EFORBIDDEN {
			t.Errorf("Kate accepting the invitation of the Kelvin address: %v, want 403", err)
		}
		if info, err := svc.CheckInvite(ctx, token); err != nil || info.For(kateActor.User) {
			t.Errorf("the invitation of the Kelvin address: %v, or shown as Kate's", err)
		}
		me, err := svc.GetSelf(ctx, kateActor)
		if err != nil {
			t.Fatal(err)
		}
		if len(me.Privileges) != 0 {
			t.Errorf("Kate joined: %+v", me.Privileges)
		}
	})
}

// actor logs in as email (with testPassword) and returns the session's actor.
func actor(t *testing.T, svc *app.Service, email string) *app.Actor {
	t.Helper()
	ctx := context.Background()
	res, err := svc.Login(ctx, email, testPassword, app.Client{IP: "198.51.100.8"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Authenticate(ctx, res.Token, "198.51.100.8")
	if err != nil {
		t.Fatal(err)
	}
	return a
}
