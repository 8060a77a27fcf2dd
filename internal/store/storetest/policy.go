package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

// testPasswordPolicy: an organization that never set a policy has the
// defaults; a stored policy reads back whole; a user's policies come from
// every organization they have a privilege in (org or site scope), once
// each, by name; an unknown organization is not found.
func testPasswordPolicy(t *testing.T, db *store.DB) {
	ctx := context.Background()
	acme, beta, gamma := mkOrg(t, db, "Acme", 60), mkOrg(t, db, "Beta", 60), mkOrg(t, db, "Gamma", 60)
	p, err := db.GetOrgPasswordPolicy(ctx, acme.ID)
	if err != nil || p != portal.DefaultPasswordPolicy() {
		t.Fatalf("default policy = %+v, %v", p, err)
	}
	want := portal.PasswordPolicy{Enabled: true, MinLength: 12, RequiresSpecialChar: true, RequiresTwoFactorAuth: true,
		ExpiryInDays: 90, HistoryCount: 5, BlockCommon: true, MinCharacterClasses: 3}
	write(t, db, func(tx *store.Tx) error { return tx.SetOrgPasswordPolicy(ctx, acme.ID, want, t0.Add(time.Hour)) })
	if p, err := db.GetOrgPasswordPolicy(ctx, acme.ID); err != nil || p != want {
		t.Errorf("policy = %+v, %v; want %+v", p, err, want)
	}
	if o, err := db.GetOrg(ctx, acme.ID); err != nil || !o.ModifiedTime.Equal(t0.Add(time.Hour)) {
		t.Errorf("org modified time after a policy change: %v %v", o, err)
	}
	if _, err := db.GetOrgPasswordPolicy(ctx, newID()); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unknown org: %v", err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.SetOrgPasswordPolicy(ctx, newID(), want, t0) })
	if portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("set on an unknown org: %v", err)
	}

	u := mkUser(t, db, "policies@example.com")
	if list, err := db.UserPasswordPolicies(ctx, u.ID); err != nil || len(list) != 0 {
		t.Errorf("no organization: %v %v", list, err)
	}
	site := mkSite(t, db, beta.ID, "HQ")
	mkPriv(t, db, u.ID, beta.ID, site.ID, portal.RoleHelpdesk)
	mkPriv(t, db, u.ID, acme.ID, "", portal.RoleRead)
	mkPriv(t, db, u.ID, beta.ID, "", portal.RoleRead) // twice in Beta
	mkPriv(t, db, mkUser(t, db, "other@example.com").ID, gamma.ID, "", portal.RoleAdmin)
	list, err := db.UserPasswordPolicies(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range list {
		got = append(got, fmt.Sprintf("%s %v", op.OrgName, op.Policy == want))
	}
	if !slices.Equal(got, []string{"Acme true", "Beta false"}) {
		t.Errorf("user policies = %v", got)
	}
}

// testPasswordHistory: a change keeps the replaced hash in the history,
// newest first, trimmed to the newest entries asked for, even when the
// clock stands still; a change checked against a hash that is no longer
// stored fails and changes nothing; the reset flag is cleared.
func testPasswordHistory(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "history@example.com")
	other := mkUser(t, db, "other.history@example.com")
	u.PasswordResetRequired = true
	write(t, db, func(tx *store.Tx) error { return tx.UpdateUser(ctx, u) })

	hashes := []string{u.PasswordHash}
	for i := 1; i <= 5; i++ {
		h := fmt.Sprintf("hash-%d", i)
		write(t, db, func(tx *store.Tx) error {
			return tx.ChangePassword(ctx, u.ID, hashes[len(hashes)-1], h, t0.Add(time.Minute), newID(), 3)
		})
		hashes = append(hashes, h)
	}
	write(t, db, func(tx *store.Tx) error {
		return tx.ChangePassword(ctx, other.ID, other.PasswordHash, "other-1", t0, newID(), 3)
	})
	got, err := db.PasswordHistory(ctx, u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"hash-4", "hash-3", "hash-2"}; !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v (newest first, 3 kept)", got, want)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 1); !slices.Equal(got, []string{"hash-4"}) {
		t.Errorf("history limited to 1 = %v", got)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 0); len(got) != 0 {
		t.Errorf("history limited to 0 = %v", got)
	}
	cur, err := db.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.PasswordHash != "hash-5" || cur.PasswordResetRequired || !cur.PasswordModifiedTime.Equal(t0.Add(time.Minute)) {
		t.Errorf("user after the changes: hash %q, reset %v, modified %v", cur.PasswordHash, cur.PasswordResetRequired, cur.PasswordModifiedTime)
	}

	// A stale check: nothing changes, the history included.
	err = db.Write(ctx, func(tx *store.Tx) error {
		return tx.ChangePassword(ctx, u.ID, "hash-4", "hash-6", t0.Add(time.Hour), newID(), 3)
	})
	if !errors.Is(err, store.ErrPasswordChanged) {
		t.Errorf("stale change: %v, want ErrPasswordChanged", err)
	}
	if cur, _ := db.GetUser(ctx, u.ID); cur.PasswordHash != "hash-5" {
		t.Errorf("a stale change replaced the hash: %q", cur.PasswordHash)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 10); len(got) != 3 || got[0] != "hash-4" {
		t.Errorf("history after a stale change = %v", got)
	}
	if got, _ := db.PasswordHistory(ctx, other.ID, 10); !slices.Equal(got, []string{other.PasswordHash}) {
		t.Errorf("other user's history = %v", got)
	}
}

// testPromoteSession: a password-only session becomes a full one with a
// new authentication time and expiry; an unknown session is not found.
func testPromoteSession(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "promote@example.com")
	s := &portal.Session{ID: newID(), TokenHash: newID(), UserID: u.ID, CSRFToken: "csrf", CreatedTime: t0, LastSeenTime: t0,
		ExpiresTime: t0.Add(15 * time.Minute), AuthTime: t0, PasswordOnly: true}
	write(t, db, func(tx *store.Tx) error { return tx.CreateSession(ctx, s) })
	got, err := db.GetSessionByTokenHash(ctx, s.TokenHash)
	if err != nil || !got.PasswordOnly {
		t.Fatalf("password-only session read back as %+v, %v", got, err)
	}
	at, exp := t0.Add(5*time.Minute), t0.Add(24*time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.PromoteSession(ctx, s.ID, at, exp) })
	got, err = db.GetSessionByTokenHash(ctx, s.TokenHash)
	if err != nil || got.PasswordOnly || !got.AuthTime.Equal(at) || !got.LastSeenTime.Equal(at) || !got.ExpiresTime.Equal(exp) {
		t.Errorf("promoted session = %+v, %v", got, err)
	}
	err = db.Write(ctx, func(tx *store.Tx) error { return tx.PromoteSession(ctx, newID(), at, exp) })
	if portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("unknown session: %v", err)
	}
}
