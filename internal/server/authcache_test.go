package server_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAuthCacheAcrossInstances: two instances on one database, each with
// its authentication cache (internal/app/authcache.go) warm. A change made
// on the first, or by another writer of the database (an operator's
// command), that takes a right away is in force on the second at its very
// next request: a changed role, an organization's new two-factor
// requirement, a revoked membership, a deleted API token, a logout, a
// disabled account. The requests are made twice before each change, so
// that the second answer comes from the cache.
func TestAuthCacheAcrossInstances(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		dbs := testenv.OpenDBs(t, d, 2)
		e := &apiEnv{t: t, st: testenv.NewStackOn(t, dbs[0]), spec: spec}

		ann, org, _, _, _ := e.acme()
		bob := e.signUp("bob@example.com", admPassword, "")
		e.invite(ann, org, "bob@example.com", orgPriv("write"))
		e.want(e.do(bob, "POST", "/api/v1/invite/verify/"+e.inviteToken("bob@example.com", 1), nil), 200, "bob accepts")
		bobID := e.self(bob)["admin_id"].(string)
		r := e.do(bob, "POST", "/api/v1/self/apitokens", map[string]any{"name": "ci"})
		e.want(r, 200, "bob's API token")
		bobKey := r.JSON(t)["key"].(string)

		// The second instance starts once the mail the set-up waits for is
		// sent: its mail worker would take a share of it to its own SMTP
		// server. Bob's session (the same cookies) and his token, and ann's
		// session, are used there.
		two := testenv.NewStackOn(t, dbs[1])
		bobTwo, annTwo := sameCookies(t, e.st, two, bob), sameCookies(t, e.st, two, ann)
		session := func(c *http.Client, method, path string) testenv.Response {
			return two.Do(t, c, method, path, nil)
		}
		token := func(method, path string) testenv.Response {
			return sendRaw(t, two, two.Client(), method, path, nil, false, map[string]string{"Authorization": "Token " + bobKey})
		}
		roleIn := func(r testenv.Response) string {
			t.Helper()
			if r.Status != 200 {
				t.Fatalf("GET /api/v1/self on the second instance = %d %s", r.Status, r.Body)
			}
			for _, p := range r.JSON(t)["privileges"].([]any) {
				if m := p.(map[string]any); m["org_id"] == org {
					return m["role"].(string)
				}
			}
			return ""
		}
		warm := func(what string, send func() testenv.Response, want int) {
			t.Helper()
			for i := range 2 {
				if r := send(); r.Status != want {
					t.Fatalf("%s, request %d on the second instance = %d %s, want %d", what, i+1, r.Status, r.Body, want)
				}
			}
		}
		orgPath := "/api/v1/orgs/" + org

		// A changed role.
		for range 2 {
			if got := roleIn(session(bobTwo, "GET", "/api/v1/self")); got != "write" {
				t.Fatalf("bob's role before = %q, want write", got)
			}
			if got := roleIn(token("GET", "/api/v1/self")); got != "write" {
				t.Fatalf("bob's role by token before = %q, want write", got)
			}
		}
		e.want(e.do(ann, "PUT", "/api/v1/orgs/"+org+"/admins/"+bobID, map[string]any{"privileges": orgPriv("read")}), 200, "ann makes bob Observer")
		if got := roleIn(session(bobTwo, "GET", "/api/v1/self")); got != "read" {
			t.Errorf("after the role change, bob's session on the second instance sees role %q, want read", got)
		}
		if got := roleIn(token("GET", "/api/v1/self")); got != "read" {
			t.Errorf("after the role change, bob's token on the second instance sees role %q, want read", got)
		}

		// The organization begins to require a second factor, no grace.
		warm("bob reads Acme", func() testenv.Response { return session(bobTwo, "GET", orgPath) }, 200)
		e.want(e.setPolicy(ann, org, map[string]any{"enabled": true, "requires_two_factor_auth": true, "two_factor_grace_days": 0}), 200, "require 2FA")
		if r := session(bobTwo, "GET", orgPath); r.Status != http.StatusForbidden || r.JSON(t)["two_factor_enrolment_required"] != true {
			t.Errorf("2FA required: bob's next request on the second instance = %d %s, want 403 two_factor_enrolment_required", r.Status, r.Body)
		}
		// Ann is held to it too: the requirement is lifted in the database.
		if err := dbs[0].Exec(context.Background(), `UPDATE orgs SET password_policy = ''`); err != nil {
			t.Fatal(err)
		}

		// A revoked membership.
		warm("bob reads Acme again", func() testenv.Response { return session(bobTwo, "GET", orgPath) }, 200)
		warm("bob's token reads Acme", func() testenv.Response { return token("GET", orgPath) }, 200)
		e.want(e.do(ann, "DELETE", "/api/v1/orgs/"+org+"/admins/"+bobID, nil), 200, "ann revokes bob")
		if r := session(bobTwo, "GET", orgPath); r.Status != http.StatusNotFound {
			t.Errorf("revoked: bob's session on the second instance reads Acme: %d %s, want 404", r.Status, r.Body)
		}
		if r := token("GET", orgPath); r.Status != http.StatusNotFound {
			t.Errorf("revoked: bob's token on the second instance reads Acme: %d %s, want 404", r.Status, r.Body)
		}
		if got := roleIn(session(bobTwo, "GET", "/api/v1/self")); got != "" {
			t.Errorf("revoked: bob's /self on the second instance still lists Acme as %q", got)
		}

		// A deleted API token.
		warm("bob's token", func() testenv.Response { return token("GET", "/api/v1/self") }, 200)
		var tokenID string
		for _, tk := range e.list(e.do(bob, "GET", "/api/v1/self/apitokens", nil)) {
			tokenID = tk["id"].(string)
		}
		e.want(e.do(bob, "DELETE", "/api/v1/self/apitokens/"+tokenID, nil), 200, "bob deletes his token")
		if r := token("GET", "/api/v1/self"); r.Status != http.StatusUnauthorized {
			t.Errorf("deleted token on the second instance = %d %s, want 401", r.Status, r.Body)
		}

		// A logout.
		warm("bob's session", func() testenv.Response { return session(bobTwo, "GET", "/api/v1/self") }, 200)
		e.want(e.do(bob, "POST", "/api/v1/logout", nil), 200, "bob logs out")
		if r := session(bobTwo, "GET", "/api/v1/self"); r.Status != http.StatusUnauthorized {
			t.Errorf("logged out: the session on the second instance = %d %s, want 401", r.Status, r.Body)
		}

		// An operator disables ann's account (another writer of the
		// database, as `portal user disable` is).
		warm("ann's session", func() testenv.Response { return session(annTwo, "GET", orgPath) }, 200)
		if _, err := e.st.Service.DisableUser(context.Background(), "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		if r := session(annTwo, "GET", orgPath); r.Status != http.StatusUnauthorized {
			t.Errorf("disabled: ann's session on the second instance = %d %s, want 401", r.Status, r.Body)
		}
	})
}

// sameCookies returns a client of stack to with the cookies c holds for
// stack from: the same browser, sent by a load balancer to another
// instance.
func sameCookies(t *testing.T, from, to *testenv.Stack, c *http.Client) *http.Client {
	t.Helper()
	src, _ := url.Parse(from.URL)
	dst, _ := url.Parse(to.URL)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(dst, c.Jar.Cookies(src))
	out := to.Client()
	out.Jar = jar
	return out
}

// TestAuthCacheSecondFactorLogin: a login's second factor does not empty
// the authentication caches (auth_epoch does not move: migration 00023),
// and the session's new token holds everywhere at once: on the second
// instance, the token the login was opened under is refused at its next
// request and the new one works.
func TestAuthCacheSecondFactorLogin(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		dbs := testenv.OpenDBs(t, d, 2)
		e := &apiEnv{t: t, st: testenv.NewStackOn(t, dbs[0]), spec: spec}
		ann, _, _, _, _ := e.acme()
		bob := e.signUp("bob@example.com", twoFactorTestPassword, "Bobco")
		secret, _ := e.activate(bob)
		pending := e.pendingLogin("bob@example.com")

		two := testenv.NewStackOn(t, dbs[1])
		annTwo, pendingTwo := sameCookies(t, e.st, two, ann), sameCookies(t, e.st, two, pending)
		for range 2 { // the second answer from the cache
			if r := two.Do(t, annTwo, "GET", "/api/v1/self", nil); r.Status != 200 {
				t.Fatalf("ann on the second instance = %d %s", r.Status, r.Body)
			}
		}
		before, err := dbs[1].AuthEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.alignClock(1) // a code of a step the activation did not use
		e.want(e.passCode(pending, e.code(secret, 0)), 200, "bob's second factor")
		if after, err := dbs[1].AuthEpoch(ctx); err != nil || after != before {
			t.Errorf("a login's second factor moved auth_epoch from %d to %d (%v): every instance's cache emptied", before, after, err)
		}
		if r := two.Do(t, pendingTwo, "GET", "/api/v1/self", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("the token the login was opened under, on the second instance = %d %s, want 401", r.Status, r.Body)
		}
		if r := two.Do(t, sameCookies(t, e.st, two, pending), "GET", "/api/v1/self", nil); r.Status != 200 || r.JSON(t)["email"] != "bob@example.com" {
			t.Errorf("the new token on the second instance = %d %s, want 200 as bob", r.Status, r.Body)
		}
		if r := two.Do(t, annTwo, "GET", "/api/v1/self", nil); r.Status != 200 {
			t.Errorf("ann on the second instance afterwards = %d %s", r.Status, r.Body)
		}
	})
}
