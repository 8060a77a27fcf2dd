package store_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAuthEpochTriggers: auth_epoch (migration 00019) moves on every change
// that can take a right away from a session or an API token, and not on the
// writes of every request: a session's slide, a token's last-use stamp, a
// new session or token. Every column of sessions and api_tokens is named
// here, so that a column added later must be placed on one side or the
// other, or this test fails. Each move is logged in auth_changes (migration
// 00024) with the users it concerns (an organization's change: its
// members, migration 00026), or everyone (NULL) for a site's rename or
// deletion and an organization's deletion, which the caches drop.
func TestAuthEpochTriggers(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := testenv.OpenDB(t, d)
		ctx := context.Background()
		now := time.UnixMilli(time.Now().UnixMilli()).UTC()
		user := func(email string) *portal.User {
			return &portal.User{ID: uuid.NewString(), Email: email, FirstName: "A", LastName: "B", PasswordHash: "h", EmailVerified: true,
				PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		}
		ann, bob := user("ann@example.com"), user("bob@example.com")
		org := &portal.Org{ID: uuid.NewString(), Name: "Acme", SessionExpiry: 1440, CreatedTime: now, ModifiedTime: now}
		site := &portal.Site{ID: uuid.NewString(), OrgID: org.ID, Name: "HQ", CreatedTime: now, ModifiedTime: now}
		sess := &portal.Session{ID: uuid.NewString(), TokenHash: uuid.NewString(), UserID: ann.ID, CSRFToken: "c", CreatedTime: now,
			LastSeenTime: now, ExpiresTime: now.Add(time.Hour), AuthTime: now}
		tok := &store.APIToken{ID: uuid.NewString(), UserID: ann.ID, Name: "t", KeyHash: uuid.NewString(), Created: now}

		epoch := func() int64 {
			t.Helper()
			n, err := db.AuthEpoch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// change runs one write transaction and returns the epoch before
		// and after it.
		change := func(what string, fn func(tx *store.Tx) error) (int64, int64) {
			t.Helper()
			before := epoch()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return before, epoch()
		}
		exec := func(q string) func(tx *store.Tx) error {
			return func(tx *store.Tx) error { return store.TxExec(ctx, tx, q) }
		}
		// moves checks that the change moves the epoch, and that the log
		// names exactly the users who (everyone when who holds "": the
		// caches are emptied).
		moves := func(what string, fn func(tx *store.Tx) error, who ...string) {
			t.Helper()
			before, after := change(what, fn)
			if after == before {
				t.Errorf("%s: auth_epoch did not move", what)
				return
			}
			n, rows, err := db.AuthEpochChanges(ctx, before, 100)
			if err != nil || n != after {
				t.Fatalf("auth_epoch read with its log: %d, %v; want %d", n, err, after)
			}
			got := map[string]bool{}
			for _, r := range rows {
				got[r.UserID] = true
			}
			want := map[string]bool{}
			for _, u := range who {
				want[u] = true
			}
			switch {
			case len(rows) == 0 || rows[0].Epoch != before+1:
				t.Errorf("%s: the log from %d to %d does not begin at %d: %+v", what, before, after, before+1, rows)
			case want[""] && !got[""]:
				t.Errorf("%s: the log names %v, not everyone", what, got)
			case !want[""] && !maps.Equal(got, want):
				t.Errorf("%s: the log names %v, want %v", what, got, want)
			}
		}
		stays := func(what string, fn func(tx *store.Tx) error) {
			t.Helper()
			if before, after := change(what, fn); after != before {
				t.Errorf("%s: auth_epoch moved; it costs every instance its cache", what)
			}
		}
		// owners returns the users of a table's rows.
		owners := func(table string) []string {
			t.Helper()
			out, err := store.Strings(ctx, db, "SELECT user_id FROM "+table)
			if err != nil || len(out) == 0 {
				t.Fatalf("users of %s: %v %v", table, out, err)
			}
			return out
		}

		// What every request or login writes.
		stays("sign-up of two users, an organization and a site", func(tx *store.Tx) error {
			for _, u := range []*portal.User{ann, bob} {
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			if err := tx.CreateOrg(ctx, org); err != nil {
				return err
			}
			return tx.CreateSite(ctx, site)
		})
		stays("a new session", func(tx *store.Tx) error { return tx.CreateSession(ctx, sess) })
		stays("a new API token", func(tx *store.Tx) error { return tx.CreateAPIToken(ctx, tok) })
		stays("a session's slide", func(tx *store.Tx) error {
			return tx.TouchSession(ctx, sess.ID, now.Add(time.Minute), now.Add(2*time.Hour))
		})
		stays("a token's last-use stamp", func(tx *store.Tx) error {
			_, err := tx.TouchAPIToken(ctx, tok.ID, now.Add(time.Hour), time.Minute)
			return err
		})

		// Each column of a session, changed alone.
		sessionChanges := map[string]string{
			"id":                "id = id || 'x'",
			"token_hash":        "token_hash = token_hash || 'x'",
			"user_id":           fmt.Sprintf("user_id = '%s'", bob.ID),
			"csrf_token":        "csrf_token = csrf_token || 'x'",
			"created_at":        "created_at = created_at - 1",
			"expires_at":        "expires_at = expires_at - 1", // shortened (a slide lengthens it)
			"auth_at":           "auth_at = auth_at + 1",
			"two_factor_passed": "", // below: passing a second factor, and owing it again
			"ip":                "ip = ip || 'x'",
			"user_agent":        "user_agent = user_agent || 'x'",
			"password_only":     "password_only = NOT password_only",
			"last_seen_at":      "", // the slide, above
		}
		tokenChanges := map[string]string{
			"id":           "id = id || 'x'",
			"user_id":      fmt.Sprintf("user_id = '%s'", bob.ID),
			"name":         "name = name || 'x'",
			"key_hash":     "key_hash = key_hash || 'x'",
			"created_at":   "created_at = created_at - 1",
			"last_used_at": "", // the stamp, above
		}
		for table, changes := range map[string]map[string]string{"sessions": sessionChanges, "api_tokens": tokenChanges} {
			cols, err := store.Columns(ctx, db, table)
			if err != nil || len(cols) == 0 {
				t.Fatalf("columns of %s: %v %v", table, cols, err)
			}
			for _, c := range cols {
				set, ok := changes[c]
				if !ok {
					t.Errorf("%s.%s: a column this test does not know; say whether changing it may take a right away (migration 00019's triggers) and add it here", table, c)
					continue
				}
				if set != "" {
					who := owners(table)
					if c == "user_id" {
						who = append(who, bob.ID)
					}
					moves(table+"."+c+" changed", exec("UPDATE "+table+" SET "+set), who...)
				}
			}
		}

		// A session owing its second factor is never cached: its passing,
		// with the new token it gets in the same statement, moves nothing
		// (migration 00023); a passed session made to owe it again does.
		pending := &portal.Session{ID: uuid.NewString(), TokenHash: uuid.NewString(), UserID: ann.ID, CSRFToken: "c", CreatedTime: now,
			LastSeenTime: now, ExpiresTime: now.Add(time.Hour), AuthTime: now}
		stays("a session owing its second factor", func(tx *store.Tx) error { return tx.CreateSession(ctx, pending) })
		stays("a second factor passed, with a new token", func(tx *store.Tx) error {
			return tx.PassPendingSession(ctx, pending.ID, pending.TokenHash, uuid.NewString())
		})
		moves("a passed session made to owe its second factor again", exec("UPDATE sessions SET two_factor_passed = false WHERE id = '"+pending.ID+"'"), ann.ID)
		stays("a second factor passed, the token kept", func(tx *store.Tx) error { return tx.PassSessionTwoFactor(ctx, pending.ID) })

		// The rest of what authenticates a request.
		moves("a user changed", exec("UPDATE users SET first_name = 'Z'"), ann.ID, bob.ID)
		moves("a privilege granted", func(tx *store.Tx) error {
			return tx.CreatePrivilege(ctx, &portal.Privilege{UserID: bob.ID, OrgID: org.ID, Scope: portal.ScopeOrg, Role: "admin"}, now.UnixMilli())
		}, bob.ID)
		moves("a role changed", exec("UPDATE privileges SET role = 'read'"), bob.ID)
		moves("a second factor started", func(tx *store.Tx) error { return tx.StartTwoFactor(ctx, bob.ID, "sealed", now) }, bob.ID)
		moves("a second factor verified", func(tx *store.Tx) error { return tx.ActivateTwoFactor(ctx, bob.ID, "sealed", 1, now) }, bob.ID)
		// Each column of a second factor, changed alone: all move but the
		// last TOTP step accepted (the replay guard, read fresh by each
		// code check and never cached).
		tfChanges := map[string]string{
			"user_id":     "", // below, there and back
			"secret":      "secret = secret || 'x'",
			"verified":    "verified = NOT verified",
			"created_at":  "created_at = created_at - 1",
			"verified_at": "verified_at = verified_at + 1",
			"last_step":   "",
		}
		cols, err := store.Columns(ctx, db, "two_factor")
		if err != nil || len(cols) == 0 {
			t.Fatalf("columns of two_factor: %v %v", cols, err)
		}
		for _, c := range cols {
			set, ok := tfChanges[c]
			switch {
			case !ok:
				t.Errorf("two_factor.%s: a column this test does not know; say whether changing it may take a right away and add it here", c)
			case set != "":
				moves("two_factor."+c+" changed", exec("UPDATE two_factor SET "+set), bob.ID)
			}
		}
		moves("two_factor.user_id changed", exec("UPDATE two_factor SET user_id = '"+ann.ID+"'"), ann.ID, bob.ID)
		moves("two_factor.user_id changed back", exec("UPDATE two_factor SET user_id = '"+bob.ID+"'"), ann.ID, bob.ID)
		stays("a TOTP code accepted (last_step)", exec("UPDATE two_factor SET last_step = last_step + 1"))
		moves("a second factor removed", func(tx *store.Tx) error { _, err := tx.DeleteTwoFactor(ctx, bob.ID); return err }, bob.ID)
		moves("an organization's policy changed (its members)", exec("UPDATE orgs SET password_policy = 'x' WHERE id = '"+org.ID+"'"), bob.ID)
		stays("an organization without members changed", func(tx *store.Tx) error {
			empty := &portal.Org{ID: uuid.NewString(), Name: "Empty", SessionExpiry: 1440, CreatedTime: now, ModifiedTime: now}
			if err := tx.CreateOrg(ctx, empty); err != nil {
				return err
			}
			return store.TxExec(ctx, tx, "UPDATE orgs SET password_policy = 'x' WHERE id = '"+empty.ID+"'")
		})
		moves("a Google link made", func(tx *store.Tx) error {
			return tx.CreateIdentityLink(ctx, &store.IdentityLink{ID: uuid.NewString(), UserID: bob.ID, Provider: "google", Subject: "s", Email: "b@example.com", Created: now})
		}, bob.ID)
		moves("a Google link removed", func(tx *store.Tx) error { return tx.DeleteUserIdentityLink(ctx, bob.ID, "google") }, bob.ID)
		moves("a site renamed (the cached privileges name it)", exec("UPDATE sites SET name = 'HQ 2'"), "")
		stays("a site's other columns changed", exec("UPDATE sites SET name = 'HQ 2', timezone = 'Europe/Paris', country_code = 'FR', address = 'x', notes = 'y', modified_at = modified_at + 1"))
		moves("a site deleted", func(tx *store.Tx) error { return tx.DeleteSite(ctx, site.ID) }, "")
		moves("a membership revoked", exec("DELETE FROM privileges"), bob.ID)
		moves("an organization deleted", func(tx *store.Tx) error { return tx.DeleteOrg(ctx, org.ID) }, "")
		moves("an API token deleted", exec("DELETE FROM api_tokens"), owners("api_tokens")...)
		moves("a session ended", exec("DELETE FROM sessions"), owners("sessions")...)
		moves("a user deleted", exec("DELETE FROM users"), ann.ID, bob.ID)
	})
}

// TestAuthEpochAtCommit: on PostgreSQL the counter moves when a transaction
// commits (migration 00022), so two transactions that each change a user do
// not wait for each other on the counter's row: one that changed a user and
// is still open does not hold up another's commit. The change and its count
// still land together: the counter has not moved while the first is open,
// and has moved once for each after both commit.
func TestAuthEpochAtCommit(t *testing.T) {
	ctx := context.Background()
	db := testenv.OpenDB(t, store.Postgres)
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	var users []*portal.User
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		users = append(users, &portal.User{ID: uuid.NewString(), Email: email, FirstName: "A", LastName: "B", PasswordHash: "h",
			EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now})
	}
	if err := db.Write(ctx, func(tx *store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := db.AuthEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rename := func(tx *store.Tx, u *portal.User, name string) error {
		u.FirstName = name
		return tx.UpdateUser(ctx, u)
	}

	changed, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Write(ctx, func(tx *store.Tx) error {
			if err := rename(tx, users[0], "Anna"); err != nil {
				return err
			}
			close(changed)
			<-release // open until the second transaction has committed
			return nil
		})
	}()
	select {
	case <-changed:
	case err := <-first:
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- db.Write(ctx, func(tx *store.Tx) error { return rename(tx, users[1], "Bobby") }) }()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a wait for the first transaction's commit, which never comes
		close(release)
		t.Fatal("a change of one user waited for an open transaction that changed another")
	}
	if n, err := db.AuthEpoch(ctx); err != nil || n != before+1 {
		t.Errorf("with the first transaction open and the second committed, auth_epoch = %d, %v; want %d", n, err, before+1)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n, err := db.AuthEpoch(ctx); err != nil || n != before+2 {
		t.Errorf("after both commits, auth_epoch = %d, %v; want %d", n, err, before+2)
	}
}
