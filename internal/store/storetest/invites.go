package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"portal"
	"portal/internal/store"
)

func mkInvite(t *testing.T, db *store.DB, orgID, email string, sites ...*portal.Site) *store.Invite {
	t.Helper()
	inv := &store.Invite{ID: newID(), OrgID: orgID, Email: email, FirstName: "Bob", LastName: "Jones", Scope: portal.ScopeOrg, Role: portal.RoleRead,
		TokenHash: "tok-" + newID(), InvitedBy: newID(), InvitedByName: "Ann Lee", Hours: 168,
		Created: t0, Modified: t0, Expires: t0.Add(168 * time.Hour)}
	if len(sites) > 0 {
		inv.Scope, inv.Role = portal.ScopeSite, portal.RoleHelpdesk
		for _, s := range sites {
			inv.Sites = append(inv.Sites, store.SiteRef{ID: s.ID})
		}
	}
	write(t, db, func(tx *store.Tx) error { return tx.CreateInvite(context.Background(), inv) })
	return inv
}

// testInvites: create and read by id, token and address (case
// insensitive), with org and site names; one open invitation per
// organization and address; renewal replaces the token and the sites.
func testInvites(t *testing.T, db *store.DB) {
	ctx := t.Context()
	org := mkOrg(t, db, "Acme", 600)
	other := mkOrg(t, db, "Other", 600)
	hq := mkSite(t, db, org.ID, "HQ")
	branch := mkSite(t, db, org.ID, "Branch")
	inv := mkInvite(t, db, org.ID, "Bob@Example.com", hq, branch)

	got, err := db.GetInvite(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.OrgName != "Acme" || got.Email != "Bob@Example.com" || got.Scope != portal.ScopeSite || got.Role != portal.RoleHelpdesk ||
		got.Status != store.InvitePending || got.InvitedByName != "Ann Lee" || got.Hours != 168 || !got.Closed.IsZero() {
		t.Errorf("GetInvite = %+v", got)
	}
	wantTime(t, "expires", got.Expires, inv.Expires)
	if len(got.Sites) != 2 || got.Sites[0].Name != "Branch" || got.Sites[1].Name != "HQ" || got.Sites[1].ID != hq.ID {
		t.Errorf("sites = %+v, want Branch and HQ by name", got.Sites)
	}
	if byToken, err := db.GetInviteByToken(ctx, inv.TokenHash); err != nil || byToken.ID != inv.ID {
		t.Errorf("GetInviteByToken = %+v, %v", byToken, err)
	}
	_, err = db.GetInviteByToken(ctx, "no-such-token")
	wantCode(t, "unknown token", err, portal.ENOTFOUND)
	if open, err := db.OpenInvite(ctx, org.ID, "BOB@example.COM"); err != nil || open.ID != inv.ID {
		t.Errorf("OpenInvite = %+v, %v", open, err)
	}
	_, err = db.OpenInvite(ctx, other.ID, "bob@example.com")
	wantCode(t, "open invite of another org", err, portal.ENOTFOUND)

	// One open invitation per organization and address; another
	// organization may invite the same address.
	dup := &store.Invite{ID: newID(), OrgID: org.ID, Email: "bob@example.com", Scope: portal.ScopeOrg, Role: portal.RoleRead,
		TokenHash: "tok-" + newID(), InvitedBy: newID(), Hours: 1, Created: t0, Modified: t0, Expires: t0.Add(time.Hour)}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateInvite(ctx, dup) }); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("second open invitation: %v, want ErrDuplicate", err)
	}
	mkInvite(t, db, other.ID, "bob@example.com")

	// Renewal: new token, role, sites and expiry; the old token is gone.
	got.TokenHash, got.Role, got.Scope, got.Sites = "renewed", portal.RoleWrite, portal.ScopeSite, []store.SiteRef{{ID: hq.ID}}
	got.Modified, got.Expires, got.Hours = t0.Add(time.Hour), t0.Add(25*time.Hour), 24
	write(t, db, func(tx *store.Tx) error { return tx.RenewInvite(ctx, got) })
	_, err = db.GetInviteByToken(ctx, inv.TokenHash)
	wantCode(t, "old token after renewal", err, portal.ENOTFOUND)
	renewed, err := db.GetInviteByToken(ctx, "renewed")
	if err != nil || renewed.ID != inv.ID || renewed.Role != portal.RoleWrite || renewed.Hours != 24 || len(renewed.Sites) != 1 || renewed.Sites[0].Name != "HQ" {
		t.Fatalf("renewed = %+v, %v", renewed, err)
	}
	wantTime(t, "renewed expiry", renewed.Expires, t0.Add(25*time.Hour))
	wantTime(t, "renewed sent", renewed.Modified, t0.Add(time.Hour))
	wantTime(t, "created stays", renewed.Created, t0)

	// Deleting a site removes it from the invitation, which keeps its scope.
	write(t, db, func(tx *store.Tx) error { return tx.DeleteSite(ctx, hq.ID) })
	if g, err := db.GetInvite(ctx, inv.ID); err != nil || len(g.Sites) != 0 || g.Scope != portal.ScopeSite {
		t.Errorf("after deleting its site: %+v, %v", g, err)
	}

	list, err := db.ListOpenInvites(ctx, org.ID)
	if err != nil || len(list) != 1 || list[0].ID != inv.ID {
		t.Fatalf("ListOpenInvites = %+v, %v", list, err)
	}
	// Deleting the organization deletes its invitations.
	write(t, db, func(tx *store.Tx) error { return tx.DeleteOrg(ctx, org.ID) })
	_, err = db.GetInvite(ctx, inv.ID)
	wantCode(t, "invite of a deleted org", err, portal.ENOTFOUND)
}

// testCloseInvite: closing needs an open invitation, the current token
// when one is given, and an unexpired one when asked; exactly one of
// concurrent closings succeeds; a closed invitation frees the address.
func testCloseInvite(t *testing.T, db *store.DB) {
	ctx := t.Context()
	org := mkOrg(t, db, "Acme", 600)
	inv := mkInvite(t, db, org.ID, "bob@example.com")
	now := t0.Add(time.Hour)
	spent := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrTokenSpent) {
			t.Errorf("%s: %v, want ErrTokenSpent", what, err)
		}
	}
	spent("wrong token", db.Write(ctx, func(tx *store.Tx) error {
		return tx.CloseInvite(ctx, inv.ID, "other-token", store.InviteAccepted, "u", now, true)
	}))
	spent("expired", db.Write(ctx, func(tx *store.Tx) error {
		return tx.CloseInvite(ctx, inv.ID, inv.TokenHash, store.InviteAccepted, "u", inv.Expires, true)
	}))

	exactlyOneWins(t, db, 8, store.ErrTokenSpent, "closings of one invitation", func(ctx context.Context, tx *store.Tx) error {
		return tx.CloseInvite(ctx, inv.ID, inv.TokenHash, store.InviteAccepted, "u", now, true)
	})
	got, err := db.GetInvite(ctx, inv.ID)
	if err != nil || got.Status != store.InviteAccepted || got.ClosedBy != "u" {
		t.Fatalf("closed invite = %+v, %v", got, err)
	}
	wantTime(t, "closed", got.Closed, now)
	spent("cancel after accept", db.Write(ctx, func(tx *store.Tx) error {
		return tx.CloseInvite(ctx, inv.ID, "", store.InviteCancelled, "u", now, false)
	}))
	got.TokenHash = "again"
	spent("renew a closed invite", db.Write(ctx, func(tx *store.Tx) error { return tx.RenewInvite(ctx, got) }))
	_, err = db.OpenInvite(ctx, org.ID, "bob@example.com")
	wantCode(t, "open invite after accept", err, portal.ENOTFOUND)
	if list, err := db.ListOpenInvites(ctx, org.ID); err != nil || len(list) != 0 {
		t.Errorf("ListOpenInvites after accept = %+v, %v", list, err)
	}
	// The address can be invited again; an expired invitation can still be
	// cancelled.
	again := mkInvite(t, db, org.ID, "bob@example.com")
	write(t, db, func(tx *store.Tx) error {
		return tx.CloseInvite(ctx, again.ID, "", store.InviteCancelled, "admin", again.Expires.Add(time.Hour), false)
	})

	// The purge forgets closed invitations once old, never open ones.
	open := mkInvite(t, db, org.ID, "cat@example.com")
	write(t, db, func(tx *store.Tx) error {
		_, err := tx.Purge(ctx, again.Expires.Add(time.Hour+8*24*time.Hour), 7*24*time.Hour)
		return err
	})
	for _, id := range []string{inv.ID, again.ID} {
		_, err := db.GetInvite(ctx, id)
		wantCode(t, "closed invitation after the purge", err, portal.ENOTFOUND)
	}
	if _, err := db.GetInvite(ctx, open.ID); err != nil {
		t.Errorf("the purge removed an open (expired) invitation: %v", err)
	}
}
