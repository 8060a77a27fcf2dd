package storetest

import (
	"context"
	"testing"

	"portal"
	"portal/internal/store"
)

// testUserSessionMaxLifetime: the shortest session_max_lifetime (days) of
// the user's organizations, the default without one; an organization made
// without a value has the default.
func testUserSessionMaxLifetime(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "lifetime@example.com")
	get := func() int {
		t.Helper()
		v, err := db.UserSessionMaxLifetime(ctx, u.ID, portal.DefaultSessionMaxLifetime)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("no organization: %d, want the default %d", v, portal.DefaultSessionMaxLifetime)
	}
	a := mkOrg(t, db, "A", 600) // without a value: the default
	mkPriv(t, db, u.ID, a.ID, "", portal.RoleAdmin)
	if v := get(); v != portal.DefaultSessionMaxLifetime {
		t.Fatalf("one organization with the default: %d", v)
	}
	b := &portal.Org{ID: newID(), Name: "B", SessionExpiry: 600, SessionMaxLifetime: 7, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, b) })
	mkPriv(t, db, u.ID, b.ID, mkSite(t, db, b.ID, "s").ID, portal.RoleHelpdesk) // site access counts too
	if v := get(); v != 7 {
		t.Fatalf("two organizations: %d, want the shorter 7", v)
	}
	// Another user's organizations do not count; an update does.
	c := &portal.Org{ID: newID(), Name: "C", SessionExpiry: 600, SessionMaxLifetime: 1, CreatedTime: t0, ModifiedTime: t0}
	write(t, db, func(tx *store.Tx) error { return tx.CreateOrg(ctx, c) })
	mkPriv(t, db, mkUser(t, db, "x@example.com").ID, c.ID, "", portal.RoleAdmin)
	if v := get(); v != 7 {
		t.Fatalf("after another user's organization: %d, want 7", v)
	}
	a.SessionMaxLifetime = 3
	write(t, db, func(tx *store.Tx) error { return tx.UpdateOrg(ctx, a) })
	if v := get(); v != 3 {
		t.Fatalf("after lowering A: %d, want 3", v)
	}
	if v, err := db.UserSessionMaxLifetime(ctx, "no-such-user", 99); err != nil || v != 99 {
		t.Fatalf("unknown user: %d, %v, want the default given", v, err)
	}
}
