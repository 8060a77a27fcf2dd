package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// cacheEnv is two instances (services, each with its authentication cache)
// on one database, and the members of one organization: ann (Super User),
// bob (write) and carol (read).
type cacheEnv struct {
	t                *testing.T
	ctx              context.Context
	db               *store.DB
	svcs             [2]*app.Service
	org              *portal.Org
	ann, bob, carol  *portal.User
	annTokens        []string // two sessions of ann's
	bobTok, carolTok string
}

func newCacheEnv(t *testing.T, d store.Dialect) *cacheEnv {
	t.Helper()
	ctx := context.Background()
	dbs := testenv.OpenDBs(t, d, 2)
	clock := testenv.NewClock(testStart)
	h := authn.NewHasher(64, 1, 1, 2)
	e := &cacheEnv{t: t, ctx: ctx, db: dbs[0]}
	for i := range e.svcs {
		e.svcs[i] = app.New(app.Options{DB: dbs[i], Hasher: h, Now: clock.Now, BaseURL: "http://portal.test"})
	}
	ts := &testService{svc: e.svcs[0], db: dbs[0], clock: clock, h: h}
	users := ts.addUsers(t, "password123", "ann@example.com", "bob@example.com", "carol@example.com")
	e.ann, e.bob, e.carol = users[0], users[1], users[2]
	now := clock.Now()
	e.org = &portal.Org{ID: uuid.NewString(), Name: "Acme", SessionExpiry: 1440, CreatedTime: now, ModifiedTime: now}
	if err := dbs[0].Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateOrg(ctx, e.org); err != nil {
			return err
		}
		for _, m := range []struct {
			u    *portal.User
			role string
		}{{e.ann, "admin"}, {e.bob, "write"}, {e.carol, "read"}} {
			p := &portal.Privilege{ID: uuid.NewString(), UserID: m.u.ID, OrgID: e.org.ID, Scope: portal.ScopeOrg, Role: m.role}
			if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.annTokens = []string{e.login("ann@example.com"), e.login("ann@example.com")}
	e.bobTok, e.carolTok = e.login("bob@example.com"), e.login("carol@example.com")
	return e
}

func (e *cacheEnv) login(email string) string {
	e.t.Helper()
	res, err := e.svcs[0].Login(e.ctx, email, "password123", app.Client{IP: "198.51.100.7", UserAgent: "curl/8.5.0"})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Token
}

// auth authenticates a session token (or, with apiKey, an API key) on
// instance i, and reports whether the cache served it: its entry was there
// before and is the same after (a request read from the database stores a
// new one).
func (e *cacheEnv) auth(i int, secret string, apiKey bool) (_ *app.Actor, cached bool) {
	e.t.Helper()
	before := app.AuthCacheEntry(e.svcs[i], secret, apiKey)
	var a *app.Actor
	var err error
	if apiKey {
		a, err = e.svcs[i].AuthenticateToken(e.ctx, secret, "198.51.100.7")
	} else {
		a, err = e.svcs[i].Authenticate(e.ctx, secret, "198.51.100.7")
	}
	if err != nil {
		e.t.Fatalf("instance %d: %v", i+1, err)
	}
	return a, before != nil && before == app.AuthCacheEntry(e.svcs[i], secret, apiKey)
}

// warm makes each secret's requests on both instances served from the
// cache.
func (e *cacheEnv) warm(secrets ...string) {
	e.t.Helper()
	for i := range e.svcs {
		for _, s := range secrets {
			e.auth(i, s, false)
			if _, cached := e.auth(i, s, false); !cached {
				e.t.Fatalf("instance %d: a second request not served from the cache", i+1)
			}
		}
	}
}

// cached checks that what concerns only others leaves who's entry in the
// cache of instance i: their request is served from it.
func (e *cacheEnv) cached(i int, who, secret string) *app.Actor {
	e.t.Helper()
	a, cached := e.auth(i, secret, false)
	if !cached {
		e.t.Errorf("instance %d: %s's request not served from the cache, after a change that did not concern them", i+1, who)
	}
	return a
}

// fresh checks that a change concerning who dropped their entry from the
// cache of instance i: their request is read from the database.
func (e *cacheEnv) fresh(i int, who, secret string) *app.Actor {
	e.t.Helper()
	a, cached := e.auth(i, secret, false)
	if cached {
		e.t.Errorf("instance %d: %s's request served from the cache, after a change that concerned them", i+1, who)
	}
	return a
}

// refused checks that a revoked session is refused on instance i.
func (e *cacheEnv) refused(i int, what, secret string) {
	e.t.Helper()
	if a, err := e.svcs[i].Authenticate(e.ctx, secret, "198.51.100.7"); portal.ErrorCode(err) != portal.EUNAUTHORIZED {
		e.t.Errorf("instance %d: %s: the next request = %v, %v; want unauthorized", i+1, what, a, err)
	}
}

func (e *cacheEnv) roleOf(i int, a *app.Actor) string {
	e.t.Helper()
	self, err := e.svcs[i].GetSelf(e.ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range self.Privileges {
		if p.OrgID == e.org.ID {
			return p.Role
		}
	}
	return ""
}

// TestAuthCacheDropsOnlyTheUsersConcerned: two instances on one database,
// their caches warm. A change that concerns one user (auth_changes,
// migration 00024) drops that user's entries on both instances, so that a
// revocation holds at the very next request on each, and leaves the
// others' in place, served from the cache: ann signs out her other
// session, edits her profile, deletes her API token; ann changes bob's
// role. Carol, whom none of it concerns, is served from the cache
// throughout.
func TestAuthCacheDropsOnlyTheUsersConcerned(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		old, cur := e.annTokens[0], e.annTokens[1]
		e.warm(old, cur, e.bobTok, e.carolTok)

		// Ann signs out her other session on the first instance. On the
		// first, the revoked session's request comes first; on the second,
		// bob's (whose request catches the cache up).
		annOld, _ := e.auth(0, old, false)
		ann, _ := e.auth(0, cur, false)
		if _, err := e.svcs[0].SignOutSession(e.ctx, ann, annOld.Session.ID); err != nil {
			t.Fatal(err)
		}
		e.refused(0, "ann's signed-out session", old)
		e.cached(0, "bob", e.bobTok)
		e.cached(1, "bob", e.bobTok)
		e.refused(1, "ann's signed-out session", old)
		e.cached(0, "carol", e.carolTok)
		e.cached(1, "carol", e.carolTok)
		ann = e.fresh(1, "ann", cur)

		// Ann edits her profile on the second instance: the first sees
		// her new name at once.
		e.warm(cur)
		first := "Anna"
		if _, err := e.svcs[1].UpdateSelf(e.ctx, ann, app.SelfInput{FirstName: &first}); err != nil {
			t.Fatal(err)
		}
		if a := e.fresh(0, "ann", cur); a.User.FirstName != "Anna" {
			t.Errorf("after her profile edit, ann is %q on the first instance", a.User.FirstName)
		}
		for i := range e.svcs {
			e.cached(i, "bob", e.bobTok)
			e.cached(i, "carol", e.carolTok)
		}

		// Ann deletes her API token on the second instance: refused on
		// both at once; bob's token stays cached.
		ann, _ = e.auth(1, cur, false)
		annKey, err := e.svcs[1].CreateAPIToken(e.ctx, ann, "ci")
		if err != nil {
			t.Fatal(err)
		}
		bob, _ := e.auth(0, e.bobTok, false)
		bobKey, err := e.svcs[0].CreateAPIToken(e.ctx, bob, "ci")
		if err != nil {
			t.Fatal(err)
		}
		for i := range e.svcs {
			for _, k := range []string{annKey.Key, bobKey.Key} {
				e.auth(i, k, true)
				if _, cached := e.auth(i, k, true); !cached {
					t.Fatalf("instance %d: a token's second request not served from the cache", i+1)
				}
			}
		}
		ann, _ = e.auth(1, cur, false)
		if _, err := e.svcs[1].DeleteAPIToken(e.ctx, ann, annKey.ID); err != nil {
			t.Fatal(err)
		}
		for i := range e.svcs {
			if _, err := e.svcs[i].AuthenticateToken(e.ctx, annKey.Key, "198.51.100.7"); portal.ErrorCode(err) != portal.EUNAUTHORIZED {
				t.Errorf("instance %d: ann's deleted token = %v, want unauthorized", i+1, err)
			}
			if _, cached := e.auth(i, bobKey.Key, true); !cached {
				t.Errorf("instance %d: bob's token not served from the cache after ann deleted hers", i+1)
			}
			e.cached(i, "carol", e.carolTok)
		}

		// Ann makes bob an Observer on the first instance: bob's next
		// request on the second has the new role, by session and by token.
		e.warm(cur, e.bobTok)
		ann, _ = e.auth(0, cur, false)
		if _, err := e.svcs[0].UpdateAdmin(e.ctx, ann, e.org.ID, e.bob.ID, []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: "read"}}); err != nil {
			t.Fatal(err)
		}
		if got := e.roleOf(1, e.fresh(1, "bob", e.bobTok)); got != "read" {
			t.Errorf("after the role change, bob's session on the second instance has role %q, want read", got)
		}
		if a, cached := e.auth(1, bobKey.Key, true); cached || e.roleOf(1, a) != "read" {
			t.Errorf("after the role change, bob's token on the second instance: from the cache %v, role %q; want read", cached, e.roleOf(1, a))
		}
		for i := range e.svcs {
			e.cached(i, "carol", e.carolTok)
		}
	})
}

// TestAuthCacheOrganizationChange: an organization's policy change concerns
// all its members (a row for everyone in auth_changes): on the other
// instance their next request is read again and held to the new policy.
func TestAuthCacheOrganizationChange(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		cur := e.annTokens[1]
		e.warm(cur, e.bobTok, e.carolTok)
		ann, _ := e.auth(0, cur, false)
		on, grace := true, 0
		if _, err := e.svcs[0].UpdatePasswordPolicy(e.ctx, ann, e.org.ID,
			app.PolicyInput{Enabled: &on, RequiresTwoFactorAuth: &on, TwoFactorGraceDays: &grace}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct{ who, secret string }{{"bob", e.bobTok}, {"carol", e.carolTok}} {
			if a := e.fresh(1, m.who, m.secret); !a.TwoFactor.Required || !a.TwoFactor.EnrolDue {
				t.Errorf("after the policy change, %s on the second instance: %+v; want a second factor required and due", m.who, a.TwoFactor)
			}
		}
	})
}

// TestAuthCacheNames: the privileges a cached request carries name their
// organization and site (GET /api/v1/self shows them); renaming either, on
// one instance, shows on the next request of a member on both, a member at
// the organization or at one of its sites. The organization's rename
// concerns its members only (migration 00026): a user of another
// organization stays cached.
func TestAuthCacheNames(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		cur := e.annTokens[1]
		ann, _ := e.auth(0, cur, false)
		site, err := e.svcs[0].CreateSite(e.ctx, ann, e.org.ID, app.SiteInput{Name: new("Lab")})
		if err != nil {
			t.Fatal(err)
		}
		// Dave manages the site only.
		ts := &testService{svc: e.svcs[0], db: e.db, clock: testenv.NewClock(testStart), h: authn.NewHasher(64, 1, 1, 2)}
		dave := ts.addUsers(t, "password123", "dave@example.com")[0]
		if err := e.db.Write(e.ctx, func(tx *store.Tx) error {
			p := &portal.Privilege{ID: uuid.NewString(), UserID: dave.ID, OrgID: e.org.ID, SiteID: site.ID, Scope: portal.ScopeSite, Role: "write"}
			return tx.CreatePrivilege(e.ctx, p, testStart.UnixMilli())
		}); err != nil {
			t.Fatal(err)
		}
		daveTok := e.login("dave@example.com")
		// Eve is a member of another organization only.
		eve := ts.addUsers(t, "password123", "eve@example.com")[0]
		if err := e.db.Write(e.ctx, func(tx *store.Tx) error {
			other := &portal.Org{ID: uuid.NewString(), Name: "Other", SessionExpiry: 1440, CreatedTime: testStart, ModifiedTime: testStart}
			if err := tx.CreateOrg(e.ctx, other); err != nil {
				return err
			}
			p := &portal.Privilege{ID: uuid.NewString(), UserID: eve.ID, OrgID: other.ID, Scope: portal.ScopeOrg, Role: "admin"}
			return tx.CreatePrivilege(e.ctx, p, testStart.UnixMilli())
		}); err != nil {
			t.Fatal(err)
		}
		eveTok := e.login("eve@example.com")
		e.warm(daveTok, e.bobTok)
		names := func(i int, who, secret string) (org, site string) {
			t.Helper()
			a, _ := e.auth(i, secret, false)
			self, err := e.svcs[i].GetSelf(e.ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if len(self.Privileges) != 1 {
				t.Fatalf("%s has %d privileges, want 1", who, len(self.Privileges))
			}
			return self.Privileges[0].OrgName, self.Privileges[0].SiteName
		}

		if _, err := e.svcs[0].UpdateSite(e.ctx, ann, site.ID, app.SiteInput{Name: new("Lab 2")}); err != nil {
			t.Fatal(err)
		}
		for i := range e.svcs {
			if _, s := names(i, "dave", daveTok); s != "Lab 2" {
				t.Errorf("instance %d: after the site's rename, dave's privilege names site %q, want Lab 2", i+1, s)
			}
		}
		e.warm(daveTok, e.bobTok, eveTok)
		if _, err := e.svcs[0].UpdateOrg(e.ctx, ann, e.org.ID, app.OrgInput{Name: new("Acme 2")}); err != nil {
			t.Fatal(err)
		}
		for i := range e.svcs {
			e.cached(i, "eve", eveTok)
			for _, m := range []struct{ who, secret string }{{"bob", e.bobTok}, {"dave", daveTok}} {
				if o, _ := names(i, m.who, m.secret); o != "Acme 2" {
					t.Errorf("instance %d: after the organization's rename, %s's privilege names %q, want Acme 2", i+1, m.who, o)
				}
			}
		}
	})
}

// TestAuthCachePrunedLog: an instance whose cache last caught up before the
// oldest value the clean-up kept in auth_changes (store.AuthChangesKept)
// cannot tell whom the changes since concern: it empties its cache, and a
// revocation among them holds.
func TestAuthCachePrunedLog(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		old, cur := e.annTokens[0], e.annTokens[1]
		e.warm(old, cur, e.bobTok, e.carolTok)
		caughtUp, err := e.db.AuthEpoch(e.ctx)
		if err != nil {
			t.Fatal(err)
		}

		// Ann signs out her other session on the first instance; then as
		// many values pass as the clean-up keeps (moved by hand), and the
		// clean-up runs: the row of ann's change is gone.
		annOld, _ := e.auth(0, old, false)
		ann, _ := e.auth(0, cur, false)
		if _, err := e.svcs[0].SignOutSession(e.ctx, ann, annOld.Session.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Exec(e.ctx, fmt.Sprintf(`UPDATE auth_epoch SET n = n + %d WHERE id = 1`, store.AuthChangesKept)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svcs[0].Cleanup(e.ctx); err != nil {
			t.Fatal(err)
		}
		if _, rows, err := e.db.AuthEpochChanges(e.ctx, caughtUp, 10); err != nil || len(rows) != 0 && rows[0].Epoch == caughtUp+1 {
			t.Fatalf("the clean-up kept the row of ann's change: %+v %v", rows, err)
		}

		// The second instance empties its cache: bob and carol are read
		// again, ann's session is refused; then the cache serves again.
		e.fresh(1, "bob", e.bobTok)
		e.refused(1, "ann's signed-out session", old)
		e.fresh(1, "carol", e.carolTok)
		e.cached(1, "bob", e.bobTok)
	})
}

// TestAuthCacheFarBehind: an instance that finds more rows of
// auth_changes since its value than one catch-up reads (authChangesRead,
// 1,000) cannot see whom the rest concern: it empties its cache, so a
// revocation past the first 1,000 rows holds. Here 1,000 changes concern
// someone else (written by hand), then ann signs out her other session.
func TestAuthCacheFarBehind(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		old, cur := e.annTokens[0], e.annTokens[1]
		e.warm(old, cur, e.bobTok, e.carolTok)
		if err := e.db.Exec(e.ctx, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000)
			INSERT INTO auth_changes (epoch, user_id) SELECT a.n + s.i, 'someone-else' FROM s, auth_epoch a WHERE a.id = 1`); err != nil {
			t.Fatal(err)
		}
		if err := e.db.Exec(e.ctx, `UPDATE auth_epoch SET n = n + 1000 WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		annOld, _ := e.auth(0, old, false)
		ann, _ := e.auth(0, cur, false)
		if _, err := e.svcs[0].SignOutSession(e.ctx, ann, annOld.Session.ID); err != nil {
			t.Fatal(err)
		}

		// The second instance's first request after it (bob's) empties its
		// cache: bob and carol are read again, ann's session is refused.
		e.fresh(1, "bob", e.bobTok)
		e.refused(1, "ann's signed-out session", old)
		e.fresh(1, "carol", e.carolTok)
		e.cached(1, "bob", e.bobTok)
	})
}

// TestAuthCacheServesOlderReads: a request that read auth_epoch before
// the cache caught up further (its read's batch was served, the next read
// caught up before it looked) is served from the cache, which has seen
// every change committed before its read and more: bob's entry stands,
// carol's, dropped by her change, is not there; a value the cache has not
// caught up with is served nothing.
func TestAuthCacheServesOlderReads(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		e.warm(e.bobTok, e.carolTok)
		old, err := e.db.AuthEpoch(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.Exec(e.ctx, `UPDATE users SET phone = phone WHERE email = 'carol@example.com'`); err != nil {
			t.Fatal(err)
		}
		e.cached(1, "bob", e.bobTok) // the second instance catches up with carol's change
		if !app.AuthCacheServes(e.svcs[1], e.bobTok, false, old) {
			t.Errorf("a request of bob's that read %d, before carol's change, is not served from the cache", old)
		}
		if app.AuthCacheServes(e.svcs[1], e.carolTok, false, old) {
			t.Errorf("carol's entry is still in the cache after her change")
		}
		if app.AuthCacheServes(e.svcs[1], e.bobTok, false, old+2) {
			t.Errorf("a request that read %d is served from a cache that has not caught up with it", old+2)
		}
	})
}

// TestAuthCacheCatchUpUnderLoad: while requests of bob and carol run
// without pause on the second instance and bob's account is changed
// without pause (by SQL, as an operator would), so that the cache catches
// up all the time, under concurrent requests (one reads the log, the
// others wait for it), ann's sessions are opened, used there and ended on
// the first instance, one after another: each ended session is refused at
// the second instance's very next request, and bob's and carol's requests
// never fail. Run it with -race too.
func TestAuthCacheCatchUpUnderLoad(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newCacheEnv(t, d)
		e.warm(e.bobTok, e.carolTok)
		stop := make(chan struct{})
		errs := make(chan error, 5)
		var served [4]int
		var wg sync.WaitGroup
		for g := range 4 {
			tok := []string{e.bobTok, e.carolTok}[g%2]
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := e.svcs[1].Authenticate(e.ctx, tok, "198.51.100.7"); err != nil {
						errs <- err
						return
					}
					served[g]++
				}
			})
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.db.Exec(e.ctx, `UPDATE users SET phone = phone WHERE email = 'bob@example.com'`); err != nil {
					errs <- err
					return
				}
			}
		})
		warmed := 0
		for range 20 {
			tok := e.login("ann@example.com")
			// Used until served from the cache (the counter moves all the
			// while: an entry read under a value the cache has passed is
			// not stored).
			for range 100 {
				if _, cached := e.auth(1, tok, false); cached {
					warmed++
					break
				}
			}
			ann, _ := e.auth(0, tok, false)
			if err := e.svcs[0].Logout(e.ctx, ann); err != nil {
				t.Fatal(err)
			}
			e.refused(1, "ann's ended session", tok)
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a request of bob's or carol's on the second instance, or a change of bob's, failed: %v", err)
		}
		if warmed < 10 {
			t.Errorf("ann's session was served from the cache before its end in %d rounds of 20", warmed)
		}
		for g, n := range served {
			if n == 0 {
				t.Errorf("requester %d made no request", g)
			}
		}
	})
}
