package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// API tokens (Mist /api/v1/self/apitokens) and "Authorization: Token".

func init() {
	// POST /api/v1/self/apitokens is left out: the Mist document answers
	// it with an array (user_apitokens), while Mist (and the SDK's users)
	// get the one token created; tokenCreate validates it as user_apitoken.
	for _, r := range []string{"GET /api/v1/self/apitokens", "GET /api/v1/self/apitokens/{apitoken_id}",
		"PUT /api/v1/self/apitokens/{apitoken_id}", "DELETE /api/v1/self/apitokens/{apitoken_id}"} {
		mistRoutes[r] = true
	}
}

// tok sends a request with "Authorization: Token <key>" only: no cookie,
// no X-CSRFToken.
func (e *apiEnv) tok(key, method, path string, body any) testenv.Response {
	e.t.Helper()
	text := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		text = string(b)
	}
	r := sendRaw(e.t, e.st, http.DefaultClient, method, path, strings.NewReader(text), text != "", map[string]string{"Authorization": "Token " + key})
	e.check(method, path, r)
	return r
}

// tokenCreate creates a token with c and returns its id and key.
func (e *apiEnv) tokenCreate(c *http.Client, name string) (id, key string) {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/self/apitokens", map[string]any{"name": name})
	e.want(r, 200, "create API token "+name)
	e.spec.ValidateSchema(e.t, "user_apitoken", r.Body)
	m := r.JSON(e.t)
	id, _ = m["id"].(string)
	key, _ = m["key"].(string)
	if !uuidRE.MatchString(id) || len(key) != 43 {
		e.t.Fatalf("created token = %s", r.Body)
	}
	return id, key
}

// tokens lists the caller's tokens.
func (e *apiEnv) tokens(c *http.Client) []map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self/apitokens", nil)
	e.want(r, 200, "list API tokens")
	return e.list(r)
}

// userID reads the id of the account with the address.
func (e *apiEnv) userID(email string) string {
	e.t.Helper()
	u, err := e.st.DB.GetUserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// TestAPITokens: create (the key once), use without CSRF, list without
// keys, last use, rename, bad input, another user's token, the GUI
// refusing tokens, and deletion taking effect on the next request.
func TestAPITokens(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, pw = "ann@example.com", "correct horse 1"
		ann := e.signUp(email, pw, "Acme")
		org := e.firstOrg(ann)
		created := e.st.Clock.Now()

		r := e.do(ann, "POST", "/api/v1/self/apitokens", map[string]any{"name": "  ci  "})
		e.want(r, 200, "create")
		spec.ValidateSchema(t, "user_apitoken", r.Body)
		m := r.JSON(t)
		id, key := m["id"].(string), m["key"].(string)
		if m["name"] != "ci" || len(key) != 43 || !uuidRE.MatchString(id) || m["created_time"] != float64(created.Unix()) {
			t.Fatalf("created = %s", r.Body)
		}
		if v, ok := m["last_used"]; !ok || v != nil {
			t.Errorf("last_used of a new token = %v (present %v), want null", v, ok)
		}
		// Only the hash is stored.
		st, err := e.st.DB.GetAPITokenByKeyHash(context.Background(), authn.HashToken(key))
		if err != nil || st.ID != id || st.KeyHash == key {
			t.Fatalf("stored token = %+v, %v", st, err)
		}

		// The list never shows the key.
		list := e.tokens(ann)
		if len(list) != 1 || list[0]["id"] != id || list[0]["name"] != "ci" || list[0]["last_used"] != nil {
			t.Fatalf("list = %v", list)
		}
		if _, has := list[0]["key"]; has || strings.Contains(string(e.do(ann, "GET", "/api/v1/self/apitokens", nil).Body), key) {
			t.Error("the list shows the key")
		}
		r = e.do(ann, "GET", "/api/v1/self/apitokens/"+id, nil)
		e.want(r, 200, "get")
		if m := r.JSON(t); m["name"] != "ci" || m["key"] != nil {
			t.Errorf("get = %s", r.Body)
		}

		// The token acts as its user, without CSRF header or cookie.
		r = e.tok(key, "GET", "/api/v1/self", nil)
		e.want(r, 200, "self by token")
		if r.JSON(t)["email"] != email {
			t.Errorf("self by token = %s", r.Body)
		}
		e.want(e.tok(key, "POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": "HQ"}), 200, "create a site by token")
		e.want(e.tok(key, "PUT", "/api/v1/self", map[string]any{"first_name": "Annie"}), 200, "PUT self by token")
		e.want(e.tok(key, "GET", "/api/v1/orgs/"+org+"/setting", nil), 200, "org setting by token")
		// The scheme is case-insensitive, as in HTTP.
		r = sendRaw(t, e.st, http.DefaultClient, "GET", "/api/v1/self", nil, false, map[string]string{"Authorization": "token " + key})
		e.want(r, 200, "lower-case scheme")

		// Last use: recorded, then at most once a minute.
		if got := e.tokens(ann)[0]["last_used"]; got != float64(created.Unix()) {
			t.Errorf("last_used after use = %v, want %d", got, created.Unix())
		}
		e.st.Clock.Advance(59 * time.Second)
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "use within the minute")
		if got := e.tokens(ann)[0]["last_used"]; got != float64(created.Unix()) {
			t.Errorf("last_used rewritten within a minute: %v", got)
		}
		e.st.Clock.Advance(time.Second)
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "use a minute later")
		if got := e.tokens(ann)[0]["last_used"]; got != float64(e.st.Clock.Now().Unix()) {
			t.Errorf("last_used = %v, want %d", got, e.st.Clock.Now().Unix())
		}

		// Rename.
		r = e.do(ann, "PUT", "/api/v1/self/apitokens/"+id, map[string]any{"name": "deploy"})
		e.want(r, 200, "rename")
		if m := r.JSON(t); m["name"] != "deploy" || m["id"] != id || m["key"] != nil {
			t.Errorf("renamed = %s", r.Body)
		}
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "renamed token still works")
		for _, msg := range []string{"Created API token ci", "Renamed API token ci to deploy"} {
			if n, last := e.auditCount(ann, msg); n != 1 || strings.Contains(last["after"].(map[string]any)["name"].(string), key) {
				t.Errorf("audit %q: %d %v", msg, n, last)
			}
		}

		// Bad input: clear 400s, nothing changed.
		for _, body := range []any{
			map[string]any{"name": ""}, map[string]any{"name": "   "}, map[string]any{"name": strings.Repeat("x", 65)},
			map[string]any{}, map[string]any{"name": 5}, map[string]any{"name": "a\nb"}, map[string]any{"name": nil}, "[]", "{",
		} {
			for _, rq := range []struct{ method, path string }{{"POST", "/api/v1/self/apitokens"}, {"PUT", "/api/v1/self/apitokens/" + id}} {
				r := e.do(ann, rq.method, rq.path, body)
				if r.Status != 400 || e.detail(r) == "" {
					t.Errorf("%s %v: %d %s", rq.method, body, r.Status, r.Body)
				}
			}
		}
		if r := e.do(ann, "POST", "/api/v1/self/apitokens", map[string]any{"name": strings.Repeat("é", 64)}); r.Status != 200 {
			t.Errorf("64-character name: %d %s", r.Status, r.Body)
		} else {
			e.want(e.do(ann, "DELETE", "/api/v1/self/apitokens/"+r.JSON(t)["id"].(string), nil), 200, "delete the long-named token")
		}
		if list := e.tokens(ann); len(list) != 1 || list[0]["name"] != "deploy" {
			t.Errorf("tokens after bad input: %v", list)
		}

		// Another user's token is not found, and stays as it was.
		bob := e.signUp("bob@example.com", pw, "")
		bobID, bobKey := e.tokenCreate(bob, "bob's")
		for _, rq := range []struct {
			method string
			body   any
		}{{"GET", nil}, {"PUT", map[string]any{"name": "mine now"}}, {"DELETE", nil}} {
			r := e.do(ann, rq.method, "/api/v1/self/apitokens/"+bobID, rq.body)
			e.want(r, 404, rq.method+" another user's token")
			r = e.tok(key, rq.method, "/api/v1/self/apitokens/"+bobID, rq.body)
			e.want(r, 404, rq.method+" another user's token with a token")
		}
		e.want(e.do(ann, "GET", "/api/v1/self/apitokens/not-a-uuid", nil), 404, "token id not a UUID")
		if list := e.tokens(bob); len(list) != 1 || list[0]["name"] != "bob's" {
			t.Errorf("bob's tokens = %v", list)
		}
		e.want(e.tok(bobKey, "GET", "/api/v1/self", nil), 200, "bob's token still works")
		e.want(e.tok(bobKey, "GET", "/api/v1/orgs/"+org, nil), 404, "bob's token in ann's organization")

		// Bad credentials are 401s that say what to send.
		for _, h := range []string{"Token ", "Token no-such-key", "Token " + key + "x", "Bearer " + key, "Basic YW5uOnB3"} {
			r := sendRaw(t, e.st, http.DefaultClient, "GET", "/api/v1/self", nil, false, map[string]string{"Authorization": h})
			e.check("GET", "/api/v1/self", r)
			if r.Status != 401 {
				t.Errorf("Authorization %q: %d %s", h, r.Status, r.Body)
			}
			if strings.HasPrefix(h, "B") && !strings.Contains(e.detail(r), "Authorization: Token") {
				t.Errorf("Authorization %q: detail %q", h, e.detail(r))
			}
		}

		// A token cannot mint tokens, log out, or open the GUI.
		r = e.tok(key, "POST", "/api/v1/self/apitokens", map[string]any{"name": "child"})
		e.want(r, 403, "create a token with a token")
		if !strings.Contains(e.detail(r), "session") {
			t.Errorf("create with a token: %s", r.Body)
		}
		r = e.tok(key, "POST", "/api/v1/logout", nil)
		e.want(r, 400, "logout with a token")
		if !strings.Contains(e.detail(r), "API token") {
			t.Errorf("logout with a token: %s", r.Body)
		}
		for _, rq := range []struct{ method, path, body string }{
			{"GET", "/account", ""}, {"GET", "/orgs/" + org, ""}, {"POST", "/account/apitokens/create", "name=gui"},
			{"POST", "/account/info", "first_name=Eve&last_name=X"},
		} {
			hdr := map[string]string{"Authorization": "Token " + key}
			if rq.body != "" {
				hdr["Content-Type"] = "application/x-www-form-urlencoded"
			}
			r := sendRaw(t, e.st, e.st.Client(), rq.method, rq.path, strings.NewReader(rq.body), rq.body != "", hdr)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("GUI %s %s with a token: %d %s", rq.method, rq.path, r.Status, r.Header.Get("Location"))
			}
		}
		if list := e.tokens(ann); len(list) != 1 {
			t.Errorf("tokens after refused creations: %v", list)
		}
		if e.self(ann)["first_name"] != "Annie" {
			t.Error("the GUI accepted a token")
		}

		// Deleting: the next request with the token is refused.
		r = e.do(ann, "DELETE", "/api/v1/self/apitokens/"+id, nil)
		e.want(r, 200, "delete")
		r = e.tok(key, "GET", "/api/v1/self", nil)
		e.want(r, 401, "deleted token")
		e.want(e.do(ann, "GET", "/api/v1/self/apitokens/"+id, nil), 404, "get a deleted token")
		e.want(e.do(ann, "DELETE", "/api/v1/self/apitokens/"+id, nil), 404, "delete twice")
		if n, _ := e.auditCount(ann, "Deleted API token deploy"); n != 1 {
			t.Errorf("deletion audited %d times", n)
		}
		if list := e.tokens(ann); len(list) != 0 {
			t.Errorf("tokens after deletion: %v", list)
		}
	})
}

// TestAPITokenExpiry: a token unused for 90 days stops working; each use
// (recorded at most once a minute) starts the 90 days again.
func TestAPITokenExpiry(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, pw = "ann@example.com", "correct horse 1"
		ann := e.signUp(email, pw, "Acme")
		_, usedKey := e.tokenCreate(ann, "used")
		idleID, idleKey := e.tokenCreate(ann, "idle")
		const days90 = 90 * 24 * time.Hour

		e.st.Clock.Advance(days90 - time.Second)
		e.want(e.tok(usedKey, "GET", "/api/v1/self", nil), 200, "used a second before 90 days")
		e.st.Clock.Advance(time.Second)
		r := e.tok(idleKey, "GET", "/api/v1/self", nil)
		e.want(r, 401, "unused for 90 days")
		if r.JSON(t)["token_expired"] != true || !strings.Contains(e.detail(r), "90 days") {
			t.Errorf("expired: %s", r.Body)
		}
		// The expired token stays listed until deleted, and cannot revive.
		c, lr := e.login(email, pw)
		e.want(lr, 200, "login")
		if got := len(e.tokens(c)); got != 2 {
			t.Errorf("%d tokens listed", got)
		}
		e.want(e.tok(idleKey, "GET", "/api/v1/self", nil), 401, "expired token again")
		e.want(e.do(c, "DELETE", "/api/v1/self/apitokens/"+idleID, nil), 200, "delete the expired token")

		// The used one counts from its last use.
		e.st.Clock.Advance(days90 - 2*time.Second)
		e.want(e.tok(usedKey, "GET", "/api/v1/self", nil), 200, "89 days 23:59:59 after the last use")
		e.st.Clock.Advance(days90)
		e.want(e.tok(usedKey, "GET", "/api/v1/self", nil), 401, "90 days after the last use")
	})
}

// TestAPITokenSessionless: what a token request (no session) does where a
// session would matter.
func TestAPITokenSessionless(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, pw = "ann@example.com", "correct horse 1"
		ann := e.signUp(email, pw, "Acme")
		other, r := e.login(email, pw)
		e.want(r, 200, "second session")
		_, key := e.tokenCreate(ann, "script")

		r = e.tok(key, "GET", "/api/v1/self/sessions", nil)
		e.want(r, 200, "sessions by token")
		for _, s := range e.list(r) {
			if s["current"] != false {
				t.Errorf("a session is current for a token: %v", s)
			}
		}

		// A token never changes the password, with the old one or without
		// (app.OpChangePassword).
		for _, body := range []map[string]any{{"password": "a new password 2"}, {"password": "a new password 2", "old_password": pw}} {
			r = e.tok(key, "PUT", "/api/v1/self", body)
			e.want(r, 403, "password change by token")
			if r.JSON(t)["session_required"] != true {
				t.Errorf("password change by token: %s", r.Body)
			}
		}
		e.want(e.do(ann, "GET", "/api/v1/self", nil), 200, "session after the refused changes")

		// "Sign out other sessions" with a token signs out all of them.
		c1, r := e.login(email, pw)
		e.want(r, 200, "login")
		c2, r := e.login(email, pw)
		e.want(r, 200, "login")
		r = e.tok(key, "DELETE", "/api/v1/self/sessions", nil)
		e.want(r, 403, "sign out sessions by token without the password")
		r = e.tok(key, "DELETE", "/api/v1/self/sessions", map[string]any{"password": pw})
		e.want(r, 200, "sign out sessions by token")
		if r.JSON(t)["signed_out"] != float64(4) {
			t.Errorf("signed out = %s", r.Body)
		}
		for _, c := range []*http.Client{c1, c2, other, ann} {
			e.want(e.do(c, "GET", "/api/v1/self", nil), 401, "session after sign-out by token")
		}
		e.want(e.tok(key, "GET", "/api/v1/self", nil), 200, "token after signing out sessions")
	})
}

// TestAPITokenRevocation: what takes the access of a token away, on the
// next request: a revoked membership, a password that expires, "this
// wasn't me", a required password reset, the deletion of the user.
func TestAPITokenRevocation(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const pw = "correct horse 1"
		ann := e.signUp("ann@example.com", pw, "Acme")
		org := e.firstOrg(ann)
		bob := e.signUp("bob@example.com", pw, "")
		_, bobKey := e.tokenCreate(bob, "bob")
		_, annKey := e.tokenCreate(ann, "ann")

		// Membership: granted and revoked in the database; the token
		// follows at once.
		bobID := e.userID("bob@example.com")
		e.want(e.tok(bobKey, "GET", "/api/v1/orgs/"+org, nil), 404, "before membership")
		mustWrite(t, e.st, func(tx *store.Tx) error {
			p := &portal.Privilege{ID: uuid.NewString(), UserID: bobID, OrgID: org, Scope: portal.ScopeOrg, Role: portal.RoleRead}
			return tx.CreatePrivilege(ctx, p, e.st.Clock.Now().UnixMilli())
		})
		e.want(e.tok(bobKey, "GET", "/api/v1/orgs/"+org, nil), 200, "member")
		e.want(e.tok(bobKey, "PUT", "/api/v1/orgs/"+org, map[string]any{"name": "Mine"}), 403, "Observer renames")
		if err := e.st.DB.Exec(ctx, "DELETE FROM privileges WHERE user_id = '"+bobID+"'"); err != nil {
			t.Fatal(err)
		}
		e.want(e.tok(bobKey, "GET", "/api/v1/orgs/"+org, nil), 404, "after revocation")

		// An expired password restricts the token as it does a session.
		e.want(e.setPolicy(ann, org, map[string]any{"enabled": true, "expiry_in_days": 30}), 200, "expiry policy")
		e.st.Clock.Advance(30 * 24 * time.Hour)
		r := e.tok(annKey, "GET", "/api/v1/orgs/"+org, nil)
		e.want(r, 403, "org with an expired password")
		if r.JSON(t)["password_expired"] != true {
			t.Errorf("expired password: %s", r.Body)
		}
		e.want(e.tok(annKey, "GET", "/api/v1/self", nil), 200, "self with an expired password")
		r = e.tok(annKey, "PUT", "/api/v1/self", map[string]any{"password": "a new password 2", "old_password": pw})
		e.want(r, 403, "new password by token")
		if !strings.Contains(e.detail(r), "log in with your password") {
			t.Errorf("new password by token: %s", r.Body)
		}
		// The owner changes it in a session; the token works again.
		annS, r := e.login("ann@example.com", pw)
		e.want(r, 200, "login with the expired password")
		e.want(e.changePassword(annS, "a new password 2", pw), 200, "new password in a session")
		e.want(e.tok(annKey, "GET", "/api/v1/orgs/"+org, nil), 200, "org after the new password")

		// A required password reset refuses the token.
		annID := e.userID("ann@example.com")
		mustWrite(t, e.st, func(tx *store.Tx) error {
			u, err := tx.GetUser(ctx, annID)
			if err != nil {
				return err
			}
			u.PasswordResetRequired = true
			return tx.UpdateUser(ctx, u)
		})
		r = e.tok(annKey, "GET", "/api/v1/self", nil)
		e.want(r, 401, "token with a reset required")
		if r.JSON(t)["password_reset_required"] != true {
			t.Errorf("reset required: %s", r.Body)
		}

		// "This wasn't me" deletes the tokens: whoever changed the address
		// may have made one.
		c := e.signUp("cat@example.com", pw, "")
		_, catKey := e.tokenCreate(c, "cat")
		e.want(e.do(c, "POST", "/api/v1/self/update", map[string]any{"email": "mallory@example.net", "password": pw}), 200, "request change")
		e.want(e.confirmChange(c, e.changeToken("mallory@example.net", 1)), 200, "change")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/self/update/revert/"+e.revertToken("cat@example.com", 1), nil), 200, "revert")
		e.want(e.tok(catKey, "GET", "/api/v1/self", nil), 401, "token after a revert")
		if list, err := e.st.DB.ListUserAPITokens(ctx, e.userID("cat@example.com")); err != nil || len(list) != 0 {
			t.Errorf("tokens after a revert: %v, %v", list, err)
		}

		// Deleting the user.
		e.want(e.tok(bobKey, "GET", "/api/v1/self", nil), 200, "bob before deletion")
		if err := e.st.DB.Exec(ctx, "DELETE FROM users WHERE id = '"+bobID+"'"); err != nil {
			t.Fatal(err)
		}
		e.want(e.tok(bobKey, "GET", "/api/v1/self", nil), 401, "token of a deleted user")
	})
}

func mustWrite(t *testing.T, st *testenv.Stack, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := st.DB.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}
