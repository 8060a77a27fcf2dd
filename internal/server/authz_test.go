package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/oidclogin"
	"portal/internal/oidctest"
	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

// The role × route table: every API route of routes.go, called by every
// kind of caller, with the outcome each must get. A route registered
// without a row here fails TestAuthzEveryRoute, so no route ships without
// its access rule.
//
// Callers (principals): each role (admin, write, read, helpdesk,
// installer) with a privilege for the whole organization ("@org"), for
// the site the request names ("@site"), or for another site of the same
// organization ("@othersite"); a signed-in user with no privilege
// ("none"); a Super User of another organization ("foreign"); and no
// credentials at all ("anonymous", or an unknown API token); and a Super
// User of the organization who deleted their account, with the session and
// API token they had ("deleted": 401 on every route but the public ones);
// and an operator of the deployment with no organization ("operator",
// made by `portal operator add`), who alone reads the survey's results.
//
// Outcomes, for routes of an organization or a site: a caller in the
// row's allow list gets 200; a member who can see the organization (or
// site) but lacks the right gets 403 naming the roles required; anyone
// else gets 404, so an organization's existence is never revealed; no
// credentials gets 401. Self routes answer the same to every signed-in
// caller; public routes to everyone; operator routes 200 to the operator
// and 403 to every other signed-in caller. Every table run goes through both
// session cookies (with X-CSRFToken) and "Authorization: Token <key>".
//
// The routes of Sign in with Google exist only when it is on: their rows
// (google) run on a Portal of their own with it on, against a minting
// provider (oidctest), one case after another (their sessions must stay
// recently signed in while other rows move the clock).

var roles = []string{portal.RoleAdmin, portal.RoleWrite, portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller}

type principal struct {
	name  string // "write@site"
	role  string // "" for none, foreign and anonymous
	scope string // "org", "site", "othersite", "none", "foreign", "anonymous", "deleted", "operator"
}

func principals() []principal {
	var out []principal
	for _, scope := range []string{"org", "site", "othersite"} {
		for _, role := range roles {
			out = append(out, principal{name: role + "@" + scope, role: role, scope: scope})
		}
	}
	return append(out, principal{name: "none", scope: "none"}, principal{name: "foreign", scope: "foreign"}, principal{name: "anonymous", scope: "anonymous"},
		principal{name: "deleted", scope: "deleted"}, principal{name: "operator", scope: "operator"})
}

// member: has a privilege in the organization of the request.
func (p principal) member() bool { return p.role != "" }

// seesSite: has a privilege covering the site of the request.
func (p principal) seesSite() bool { return p.scope == "org" || p.scope == "site" }

// Principal lists for the rows.
var (
	allMembers = "admin@org write@org read@org helpdesk@org installer@org " +
		"admin@site write@site read@site helpdesk@site installer@site " +
		"admin@othersite write@othersite read@othersite helpdesk@othersite installer@othersite"
	siteViewers = "admin@org write@org read@org helpdesk@org installer@org " +
		"admin@site write@site read@site helpdesk@site installer@site"
	inventoryManagers = "admin@org write@org installer@org admin@site write@site installer@site"
)

type routeKind int

const (
	orgRoute      routeKind = iota // about the organization {org_id}
	siteRoute                      // about the site {site_id}
	selfRoute                      // about the signed-in caller
	publicRoute                    // no credentials needed
	operatorRoute                  // for the deployment's operators only
)

// authzRow is one route's access rule.
type authzRow struct {
	pattern string // as in routes.go
	kind    routeKind
	allow   string // org and site routes: the principals that may (space-separated)
	// status: self and public routes, what every (signed-in) caller gets.
	status int
	// tokenStatus: self routes, the status with an API token when it
	// differs (0: the same).
	tokenStatus int
	path        string               // instead of the pattern's path (the /api/ fallback)
	body        func(f *fixture) any // request body, if any
	// perIP: the route limits requests per client address (all of ours
	// come from 127.0.0.1): each case starts an hour later.
	perIP bool
	// unaudited: why an allowed change writes no audit entry ("" for a
	// change that must).
	unaudited string
	// google: a route of Sign in with Google (see above).
	google bool
}

func authzRows() []authzRow {
	named := func(key string, v any) func(*fixture) any {
		return func(*fixture) any { return map[string]any{key: v} }
	}
	privileges := func(role string) func(*fixture) any {
		return named("privileges", []any{map[string]any{"scope": "org", "role": role}})
	}
	unique := func(key, format string) func(*fixture) any {
		return func(f *fixture) any { return map[string]any{key: fmt.Sprintf(format, f.n)} }
	}
	return []authzRow{
		// Public.
		{pattern: "GET /api/v1/openapi.json", kind: publicRoute, status: 200},
		{pattern: "POST /api/v1/register", kind: publicRoute, status: 200, body: func(f *fixture) any {
			return map[string]any{"email": fmt.Sprintf("signup-%d@example.com", f.n), "first_name": "New", "last_name": "User", "password": "correct horse 1"}
		}, perIP: true},
		{pattern: "POST /api/v1/register/verify/{token}", kind: publicRoute, status: 404},
		{pattern: "POST /api/v1/register/resend", kind: publicRoute, status: 200, body: unique("email", "resend-%d@example.com"), perIP: true},
		{pattern: "POST /api/v1/login", kind: publicRoute, status: 400, body: func(f *fixture) any {
			return map[string]any{"email": fmt.Sprintf("nobody-%d@example.com", f.n), "password": "wrong password"}
		}},
		{pattern: "POST /api/v1/recover", kind: publicRoute, status: 200, body: unique("email", "recover-%d@example.com"), perIP: true},
		{pattern: "POST /api/v1/recover/verify/{token}", kind: publicRoute, status: 404},
		{pattern: "POST /api/v1/self/update/revert/{token}", kind: publicRoute, status: 404},
		{pattern: "POST /api/v1/invite/decline/{token}", kind: publicRoute, status: 404}, // a session, when sent, must be the invited address
		{pattern: "/api/", path: "/api/v1/no-such-route", kind: publicRoute, status: 404},

		// The signed-in caller's own account: anyone signed in.
		{pattern: "POST /api/v1/logout", kind: selfRoute, status: 200, tokenStatus: 400},
		{pattern: "GET /api/v1/self", kind: selfRoute, status: 200},
		{pattern: "PUT /api/v1/self", kind: selfRoute, status: 200, body: named("first_name", "Renamed")},
		// An API token cannot delete the account (app.SessionOnlyOperations).
		{pattern: "DELETE /api/v1/self", kind: selfRoute, status: 200, tokenStatus: 403, body: named("password", fixturePassword)},
		{pattern: "GET /api/v1/self/logs", kind: selfRoute, status: 200},
		{pattern: "GET /api/v1/self/login_failures", kind: selfRoute, status: 200},
		{pattern: "GET /api/v1/self/export", kind: selfRoute, status: 200},
		// An API token may never change the e-mail address or the password
		// (app.SessionOnlyOperations).
		{pattern: "POST /api/v1/self/update", kind: selfRoute, status: 200, tokenStatus: 403, body: func(f *fixture) any {
			return map[string]any{"email": fmt.Sprintf("changed-%d@example.com", f.n), "password": fixturePassword}
		}},
		{pattern: "GET /api/v1/self/update/verify/{token}", kind: selfRoute, status: 404, tokenStatus: 403},
		{pattern: "GET /api/v1/self/update", kind: selfRoute, status: 404},
		{pattern: "DELETE /api/v1/self/update", kind: selfRoute, status: 404},
		{pattern: "POST /api/v1/self/update/resend", kind: selfRoute, status: 404, tokenStatus: 403},
		{pattern: "GET /api/v1/self/sessions", kind: selfRoute, status: 200},
		{pattern: "DELETE /api/v1/self/sessions", kind: selfRoute, status: 200, body: named("password", fixturePassword)},
		{pattern: "DELETE /api/v1/self/sessions/{session_id}", kind: selfRoute, status: 200},
		{pattern: "GET /api/v1/self/apitokens", kind: selfRoute, status: 200},
		// A token cannot mint tokens.
		{pattern: "POST /api/v1/self/apitokens", kind: selfRoute, status: 200, tokenStatus: 403, body: named("name", "script")},
		{pattern: "GET /api/v1/self/apitokens/{apitoken_id}", kind: selfRoute, status: 200},
		{pattern: "PUT /api/v1/self/apitokens/{apitoken_id}", kind: selfRoute, status: 200, body: named("name", "renamed")},
		{pattern: "DELETE /api/v1/self/apitokens/{apitoken_id}", kind: selfRoute, status: 200},
		{pattern: "POST /api/v1/orgs", kind: selfRoute, status: 200, body: named("name", "Another org")},
		// Two-factor authentication (the caller has none enabled).
		{pattern: "POST /api/v1/login/two_factor", kind: selfRoute, status: 404, body: named("two_factor", "123456")},
		{pattern: "GET /api/v1/self/two_factor/token", kind: selfRoute, status: 404},
		{pattern: "POST /api/v1/self/two_factor/verify", kind: selfRoute, status: 404, body: named("two_factor", "123456")},
		{pattern: "GET /api/v1/self/two_factor/recovery_codes", kind: selfRoute, status: 404},
		{pattern: "POST /api/v1/self/two_factor/recovery_codes", kind: selfRoute, status: 404, tokenStatus: 403, body: named("password", fixturePassword)},
		// Invitations addressed to the caller (an unknown link here).
		{pattern: "POST /api/v1/invite/verify/{token}", kind: selfRoute, status: 404},

		// The organization.
		{pattern: "GET /api/v1/orgs/{org_id}", kind: orgRoute, allow: allMembers},
		{pattern: "PUT /api/v1/orgs/{org_id}", kind: orgRoute, allow: "admin@org", body: named("name", "Renamed")},
		{pattern: "DELETE /api/v1/orgs/{org_id}", kind: orgRoute, allow: "admin@org"},
		{pattern: "GET /api/v1/orgs/{org_id}/setting", kind: orgRoute, allow: "admin@org"},
		{pattern: "PUT /api/v1/orgs/{org_id}/setting", kind: orgRoute, allow: "admin@org", body: named("password_policy", map[string]any{"min_length": 10})},
		{pattern: "GET /api/v1/orgs/{org_id}/sites", kind: orgRoute, allow: allMembers},
		// The audit log: Super Users, and Network Admins for their sites
		// (also a Super User of a site).
		{pattern: "GET /api/v1/orgs/{org_id}/logs", kind: orgRoute, allow: "admin@org write@org admin@site write@site admin@othersite write@othersite"},
		{pattern: "POST /api/v1/orgs/{org_id}/sites", kind: orgRoute, allow: "admin@org write@org", body: named("name", "New site")},
		// Administrators and invitations: Super Users of the organization.
		// {admin_id} is an Observer of the organization, {invite_id} an
		// open invitation.
		{pattern: "GET /api/v1/orgs/{org_id}/admins", kind: orgRoute, allow: "admin@org"},
		{pattern: "PUT /api/v1/orgs/{org_id}/admins/{admin_id}", kind: orgRoute, allow: "admin@org", body: privileges("write")},
		{pattern: "DELETE /api/v1/orgs/{org_id}/admins/{admin_id}", kind: orgRoute, allow: "admin@org"},
		{pattern: "POST /api/v1/orgs/{org_id}/invites", kind: orgRoute, allow: "admin@org", body: func(f *fixture) any {
			return map[string]any{"email": fmt.Sprintf("invitee-%d@example.com", f.n), "first_name": "In", "last_name": "Vitee",
				"privileges": []any{map[string]any{"scope": "org", "role": "read"}}}
		}},
		{pattern: "PUT /api/v1/orgs/{org_id}/invites/{invite_id}", kind: orgRoute, allow: "admin@org", body: privileges("write")},
		{pattern: "DELETE /api/v1/orgs/{org_id}/invites/{invite_id}", kind: orgRoute, allow: "admin@org"},

		// The inventory and device events: {device_id} and the devices
		// named in bodies are on the request's site; changing needs
		// ActManageInventory there, reporting events needs it somewhere
		// (each event is then judged on its own).
		{pattern: "GET /api/v1/orgs/{org_id}/inventory", kind: orgRoute, allow: allMembers},
		{pattern: "PUT /api/v1/orgs/{org_id}/inventory", kind: orgRoute, allow: inventoryManagers, body: func(f *fixture) any {
			return map[string]any{"op": "assign", "site_id": f.site.ID, "macs": []string{f.newDevice(nil).MAC}}
		}},
		{pattern: "POST /api/v1/orgs/{org_id}/inventory/devices", kind: orgRoute, allow: inventoryManagers, body: func(f *fixture) any {
			return map[string]any{"devices": []any{map[string]any{"serial": fmt.Sprintf("AUTHZ%d", f.n), "mac": fmt.Sprintf("02:00:00:%02x:%02x:%02x", f.n>>16&255, f.n>>8&255, f.n&255), "site_id": f.site.ID}}}
		}},
		{pattern: "PUT /api/v1/orgs/{org_id}/inventory/devices/{device_id}", kind: orgRoute, allow: inventoryManagers, body: named("name", "Renamed AP")},
		{pattern: "DELETE /api/v1/orgs/{org_id}/inventory/devices/{device_id}", kind: orgRoute, allow: inventoryManagers},
		{pattern: "GET /api/v1/orgs/{org_id}/events", kind: orgRoute, allow: allMembers},
		{pattern: "POST /api/v1/orgs/{org_id}/events", kind: orgRoute, allow: inventoryManagers + " admin@othersite write@othersite installer@othersite", body: func(f *fixture) any {
			return map[string]any{"events": []any{map[string]any{"mac": f.newDevice(nil).MAC, "type": "config_changed"}}}
		}, unaudited: "devices' reports are stored as events, not as changes of the organization"},

		// A site.
		{pattern: "GET /api/v1/sites/{site_id}", kind: siteRoute, allow: siteViewers},
		{pattern: "PUT /api/v1/sites/{site_id}", kind: siteRoute, allow: "admin@org write@org admin@site write@site", body: named("name", "Renamed site")},
		{pattern: "DELETE /api/v1/sites/{site_id}", kind: siteRoute, allow: "admin@org write@org admin@site"},

		// E-mail notifications: whoever sees the organization (or site)
		// subscribes to it. Turning off what is off changes nothing.
		{pattern: "GET /api/v1/self/subscriptions", kind: selfRoute, status: 200},
		{pattern: "POST /api/v1/orgs/{org_id}/subscriptions", kind: orgRoute, allow: allMembers},
		{pattern: "DELETE /api/v1/orgs/{org_id}/subscriptions", kind: orgRoute, allow: allMembers, unaudited: "the caller had no subscription to end"},
		{pattern: "POST /api/v1/sites/{site_id}/subscriptions", kind: siteRoute, allow: siteViewers},
		{pattern: "DELETE /api/v1/sites/{site_id}/subscriptions", kind: siteRoute, allow: siteViewers, unaudited: "the caller had no subscription to end"},

		// The two-minute survey: one's own standing and answer; the results
		// for the deployment's operators only.
		{pattern: "GET /api/v1/self/survey", kind: selfRoute, status: 200},
		{pattern: "POST /api/v1/self/survey", kind: selfRoute, status: 200, body: func(*fixture) any {
			return map[string]any{"satisfaction": 4, "ease": 5, "purpose": "inventory", "comment": "Quick."}
		}},
		{pattern: "GET /api/v1/survey/results", kind: operatorRoute},

		// Sign in with Google. Linking and unlinking are the caller's own,
		// with a session only: a token may not add or remove a way into the
		// account (app.SessionOnlyOperations). The link is finished with a
		// real code, of a Google account of the caller's own; the unlink
		// finds one linked. Signing in is the same to everyone: starting
		// it, and a code sent without the flow's browser cookie, refused.
		{pattern: "GET /api/v1/self/oauth/google", kind: selfRoute, status: 200, tokenStatus: 403, google: true},
		{pattern: "POST /api/v1/self/oauth/google", kind: selfRoute, status: 200, tokenStatus: 403, google: true, body: (*fixture).googleLinkCode},
		{pattern: "DELETE /api/v1/login/oauth/google", kind: selfRoute, status: 200, tokenStatus: 403, google: true, body: (*fixture).googleLinked},
		{pattern: "GET /api/v1/login/oauth/google", kind: publicRoute, status: 200, perIP: true, google: true},
		{pattern: "POST /api/v1/login/oauth/google", kind: publicRoute, status: 400, google: true, body: named("code", "not-a-code-of-this-browser")},
	}
}

// want is the status the row expects for p.
func (row authzRow) want(p principal, token bool) int {
	if (p.scope == "anonymous" || p.scope == "deleted") && row.kind != publicRoute {
		return 401
	}
	switch row.kind {
	case publicRoute:
		return row.status
	case selfRoute:
		if token && row.tokenStatus != 0 {
			return row.tokenStatus
		}
		return row.status
	case operatorRoute:
		if p.scope == "operator" {
			return 200
		}
		return 403
	}
	if slices.Contains(strings.Fields(row.allow), p.name) {
		return 200
	}
	if row.kind == orgRoute && p.member() || row.kind == siteRoute && p.seesSite() {
		return 403
	}
	return 404
}

// fixture is the world of one request: an organization with two sites, its
// Super User and an Observer, and the principal with a session, a spare
// session and a spare API token (the targets of the self routes).
type fixture struct {
	st           *testenv.Stack
	n            int
	org          *portal.Org
	site, other  *portal.Site // the site of the request; another site
	user         *portal.User // the principal (nil for anonymous)
	sessionToken string
	csrf         string
	apiKey       string
	spareSession *portal.Session
	spareToken   *store.APIToken
	owner        *portal.User // the organization's Super User
	observer     *portal.User // an Observer of the organization
	inviteID     string       // an open invitation, made on demand
	t            testing.TB
	google       *oidctest.Minting // the Google rows' provider
}

// googleLinkCode starts linking a Google account with the caller's session
// and returns the provider's code and state for a Google account of the
// caller's own; without a session that can start it, a code of nothing.
func (f *fixture) googleLinkCode() any {
	f.t.Helper()
	if f.sessionToken == "" {
		return map[string]any{"code": "no-flow"}
	}
	r := sendRaw(f.t, f.st, http.DefaultClient, "GET", "/api/v1/self/oauth/google", nil, false,
		map[string]string{"Cookie": "sessionid=" + f.sessionToken + "; csrftoken=" + f.csrf})
	var m struct {
		URL string `json:"authorization_url"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &m) != nil || m.URL == "" {
		return map[string]any{"code": "no-flow"} // a deleted account's session
	}
	code, state := f.google.AuthorizeAs(f.t, m.URL, fmt.Sprintf("authz-google-%d", f.n), fmt.Sprintf("google-%d@example.com", f.n))
	return map[string]any{"code": code, "state": state}
}

// googleLinked links a Google account to the caller's account and returns
// the body of an unlink: the current password.
func (f *fixture) googleLinked() any {
	f.t.Helper()
	if f.user == nil {
		return map[string]any{"password": fixturePassword}
	}
	if _, err := f.st.DB.GetUser(context.Background(), f.user.ID); err == nil { // not a deleted account
		now := f.st.Clock.Now()
		err := f.st.DB.Write(context.Background(), func(tx *store.Tx) error {
			return tx.CreateIdentityLink(context.Background(), &store.IdentityLink{ID: uuid.NewString(), UserID: f.user.ID, Provider: app.ProviderGoogle,
				Subject: fmt.Sprintf("authz-google-%d", f.n), Email: fmt.Sprintf("google-%d@example.com", f.n), Created: now})
		})
		if err != nil {
			f.t.Fatalf("link Google: %v", err)
		}
	}
	return map[string]any{"password": fixturePassword}
}

var fixtureSeq atomic.Int64

// fixturePassword is the password of every fixture user (routes that ask
// for the current password get it); fixtureHash is its hash, with cheap
// parameters.
const fixturePassword = "correct horse 1"

var fixtureHash = sync.OnceValue(func() string {
	h, err := authn.NewHasher(8, 1, 1, 4).Hash(context.Background(), fixturePassword)
	if err != nil {
		panic(err)
	}
	return h
})

func newFixture(t *testing.T, st *testenv.Stack, p principal) *fixture {
	t.Helper()
	ctx := context.Background()
	now := st.Clock.Now()
	f := &fixture{st: st, n: int(fixtureSeq.Add(1)), t: t}
	id := uuid.NewString
	mkUser := func(tx *store.Tx, name string) (*portal.User, error) {
		u := &portal.User{ID: id(), Email: fmt.Sprintf("%s-%d@example.com", name, f.n), FirstName: name, LastName: "Test",
			PasswordHash: fixtureHash(), EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		return u, tx.CreateUser(ctx, u)
	}
	priv := func(tx *store.Tx, userID, orgID, siteID, role string) error {
		pr := &portal.Privilege{ID: id(), UserID: userID, OrgID: orgID, SiteID: siteID, Scope: portal.ScopeOrg, Role: role}
		if siteID != "" {
			pr.Scope = portal.ScopeSite
		}
		return tx.CreatePrivilege(ctx, pr, now.UnixMilli())
	}
	err := st.DB.Write(ctx, func(tx *store.Tx) error {
		f.org = &portal.Org{ID: id(), Name: fmt.Sprintf("Org %d", f.n), SessionExpiry: portal.DefaultSessionExpiry, CreatedTime: now, ModifiedTime: now}
		if err := tx.CreateOrg(ctx, f.org); err != nil {
			return err
		}
		f.site = &portal.Site{ID: id(), OrgID: f.org.ID, Name: "Mine", CreatedTime: now, ModifiedTime: now}
		f.other = &portal.Site{ID: id(), OrgID: f.org.ID, Name: "Other", CreatedTime: now, ModifiedTime: now}
		for _, s := range []*portal.Site{f.site, f.other} {
			if err := tx.CreateSite(ctx, s); err != nil {
				return err
			}
		}
		var err error
		if f.owner, err = mkUser(tx, "owner"); err != nil {
			return err
		}
		if f.observer, err = mkUser(tx, "observer"); err != nil {
			return err
		}
		if err := priv(tx, f.owner.ID, f.org.ID, "", portal.RoleAdmin); err != nil {
			return err
		}
		if err := priv(tx, f.observer.ID, f.org.ID, "", portal.RoleRead); err != nil {
			return err
		}
		if p.scope == "anonymous" {
			return nil
		}
		if f.user, err = mkUser(tx, "caller"); err != nil {
			return err
		}
		switch p.scope {
		case "org":
			err = priv(tx, f.user.ID, f.org.ID, "", p.role)
		case "deleted":
			err = priv(tx, f.user.ID, f.org.ID, "", portal.RoleAdmin)
		case "site":
			err = priv(tx, f.user.ID, f.org.ID, f.site.ID, p.role)
		case "othersite":
			err = priv(tx, f.user.ID, f.org.ID, f.other.ID, p.role)
		case "operator":
			_, err = tx.AddOperator(ctx, f.user.ID, now)
		case "foreign":
			theirs := &portal.Org{ID: id(), Name: fmt.Sprintf("Foreign %d", f.n), SessionExpiry: portal.DefaultSessionExpiry, CreatedTime: now, ModifiedTime: now}
			if err = tx.CreateOrg(ctx, theirs); err == nil {
				err = priv(tx, f.user.ID, theirs.ID, "", portal.RoleAdmin)
			}
		}
		if err != nil {
			return err
		}
		if _, f.sessionToken, f.csrf, err = mkSession(tx, f.user.ID, now); err != nil {
			return err
		}
		if f.spareSession, _, _, err = mkSession(tx, f.user.ID, now); err != nil {
			return err
		}
		if f.apiKey, err = mkAPIToken(tx, f.user.ID, "auth", now); err != nil {
			return err
		}
		f.spareToken = &store.APIToken{ID: id(), UserID: f.user.ID, Name: "spare", KeyHash: authn.HashToken(id()), Created: now}
		if err := tx.CreateAPIToken(ctx, f.spareToken); err != nil {
			return err
		}
		if p.scope == "deleted" { // the account is deleted, its credentials kept
			_, err = tx.DeleteUser(ctx, f.user, now, now.Add(app.DeletedUserAuditRetention))
		}
		return err
	})
	if err != nil {
		t.Fatalf("fixture for %s: %v", p.name, err)
	}
	return f
}

func mkSession(tx *store.Tx, userID string, now time.Time) (*portal.Session, string, string, error) {
	token, _ := authn.NewToken()
	csrf, _ := authn.NewToken()
	s := &portal.Session{ID: uuid.NewString(), TokenHash: authn.HashToken(token), UserID: userID, CSRFToken: csrf,
		CreatedTime: now, LastSeenTime: now, ExpiresTime: now.Add(24 * time.Hour), AuthTime: now, IP: "127.0.0.1", UserAgent: "authz test"}
	return s, token, csrf, tx.CreateSession(context.Background(), s)
}

func mkAPIToken(tx *store.Tx, userID, name string, now time.Time) (string, error) {
	key, _ := authn.NewToken()
	return key, tx.CreateAPIToken(context.Background(), &store.APIToken{ID: uuid.NewString(), UserID: userID, Name: name, KeyHash: authn.HashToken(key), Created: now})
}

// invite makes (once) an open invitation of the organization, by its
// Super User, and returns its id.
func (f *fixture) invite(t *testing.T) string {
	t.Helper()
	if f.inviteID == "" {
		ad, err := f.st.Service.Invite(context.Background(), &app.Actor{User: f.owner, IP: "127.0.0.1"}, f.org.ID, app.InviteInput{
			Email: fmt.Sprintf("invited-%d@example.com", f.n), FirstName: "In", LastName: "Vited",
			Privileges: []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: portal.RoleRead}}})
		if err != nil {
			t.Fatalf("fixture invitation: %v", err)
		}
		f.inviteID = ad.InviteID
	}
	return f.inviteID
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// path fills the pattern's parameters from the fixture.
func (f *fixture) path(t *testing.T, row authzRow) (method, path string) {
	method, path, ok := strings.Cut(row.pattern, " ")
	if !ok {
		method, path = "GET", row.pattern
	}
	if row.path != "" {
		return method, row.path
	}
	var missing []string
	path = pathParam.ReplaceAllStringFunc(path, func(m string) string {
		switch name := m[1 : len(m)-1]; name {
		case "org_id":
			return f.org.ID
		case "site_id":
			return f.site.ID
		case "session_id":
			if f.spareSession != nil {
				return f.spareSession.ID
			}
		case "apitoken_id":
			if f.spareToken != nil {
				return f.spareToken.ID
			}
		case "token":
			return "no-such-link-token"
		case "admin_id":
			return f.observer.ID
		case "invite_id":
			return f.invite(t)
		case "device_id":
			return f.newDevice(t).ID
		default:
			missing = append(missing, name)
		}
		return uuid.NewString() // anonymous: any id will do
	})
	if len(missing) > 0 {
		t.Fatalf("%s: the fixture has no value for path parameter(s) %v: add it to fixture.path", row.pattern, missing)
	}
	return method, path
}

// call sends the row's request as p: by session or by API token.
func (f *fixture) call(t *testing.T, row authzRow, p principal, token bool) testenv.Response {
	t.Helper()
	method, path := f.path(t, row)
	var body any
	if row.body != nil {
		body = row.body(f)
	}
	hdr := map[string]string{}
	switch {
	case p.scope == "anonymous" && token:
		hdr["Authorization"] = "Token no-such-key"
	case p.scope == "anonymous":
	case token:
		hdr["Authorization"] = "Token " + f.apiKey
	default:
		hdr["Cookie"] = "sessionid=" + f.sessionToken + "; csrftoken=" + f.csrf
		hdr["X-CSRFToken"] = f.csrf
	}
	var text string
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		text = string(b)
	}
	return sendRaw(t, f.st, http.DefaultClient, method, path, strings.NewReader(text), text != "", hdr)
}

func TestAuthzEveryRoute(t *testing.T) {
	spec := mistspec.Load(t)
	rows := authzRows()
	// Every API route has exactly one row, and every row a route.
	byPattern := map[string]authzRow{}
	for _, row := range rows {
		if _, dup := byPattern[row.pattern]; dup {
			t.Errorf("two rows for %s", row.pattern)
		}
		byPattern[row.pattern] = row
	}
	registered := map[string]bool{}
	for _, p := range server.RoutePatterns() {
		if !strings.Contains(p, "/api/") {
			continue
		}
		registered[p] = true
		if _, ok := byPattern[p]; !ok {
			t.Errorf("route %s has no row in the role × route table (authz_test.go): add one saying who may call it", p)
		}
	}
	for _, row := range rows {
		if !registered[row.pattern] {
			t.Errorf("row %s names no registered route", row.pattern)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d API routes seen", len(registered))
	}
	if t.Failed() {
		t.FailNow()
	}

	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		google := oidctest.StartMinting(t, "portal-authz")
		gst := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Google: func(redirect string) oidclogin.Config {
			return oidclogin.Config{ClientID: google.ClientID, ClientSecret: "secret", Issuer: google.Issuer, RedirectURL: redirect}
		}})
		for _, row := range rows {
			t.Run(strings.ReplaceAll(row.pattern, "/", "_"), func(t *testing.T) {
				on := st
				if row.google {
					on = gst // one case after another (see above)
				} else {
					t.Parallel() // each case has its own fixture
				}
				for _, token := range []bool{false, true} {
					for _, p := range principals() {
						checkAuthzCase(t, on, spec, row, p, token, google)
					}
				}
			})
		}
	})
}

func checkAuthzCase(t *testing.T, st *testenv.Stack, spec *mistspec.Spec, row authzRow, p principal, token bool, google *oidctest.Minting) {
	t.Helper()
	auth := "session"
	if token {
		auth = "API token"
	}
	if row.perIP {
		st.Clock.Advance(time.Hour)
	}
	f := newFixture(t, st, p)
	f.google = google
	method, path := f.path(t, row)
	r := f.call(t, row, p, token)
	checkAPIResponse(t, spec, method, path, r)
	want := row.want(p, token)
	if r.Status != want {
		t.Errorf("%s as %s (%s): status %d, want %d: %s", row.pattern, p.name, auth, r.Status, want, r.Body)
		return
	}
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	if row.kind == orgRoute || row.kind == siteRoute {
		switch want {
		case 403:
			if req, _ := m["required_roles"].([]any); len(req) == 0 {
				t.Errorf("%s as %s (%s): 403 without required_roles: %s", row.pattern, p.name, auth, r.Body)
			}
		case 404:
			if d, _ := m["detail"].(string); d != "organization not found" && d != "site not found" {
				t.Errorf("%s as %s (%s): 404 detail %q", row.pattern, p.name, auth, d)
			}
		case 200:
			if row.pattern == "GET /api/v1/orgs/{org_id}/sites" {
				checkSitesListed(t, f, p, r)
			}
		}
	}
	if row.kind == operatorRoute && want == 403 {
		if d, _ := m["detail"].(string); !strings.Contains(d, "only the operators") {
			t.Errorf("%s as %s (%s): 403 detail %q, want it to say only operators", row.pattern, p.name, auth, d)
		}
	}
	if f.user == nil || p.scope == "deleted" {
		return
	}
	// A refused request changes nothing, so leaves no audit entry; an
	// allowed change of an organization or a site is audited.
	entries, _, err := st.DB.ListAudit(context.Background(), store.AuditQuery{AdminID: f.user.ID, End: st.Clock.Now().Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case r.Status >= 400 && len(entries) > 0:
		t.Errorf("%s as %s (%s): refused with %d but audited %q", row.pattern, p.name, auth, r.Status, entries[0].Message)
	case r.Status == 200 && method != "GET" && (row.kind == orgRoute || row.kind == siteRoute) && len(entries) == 0 && row.unaudited == "":
		t.Errorf("%s as %s (%s): allowed change without an audit entry", row.pattern, p.name, auth)
	}
}

// checkSitesListed: an org-scoped caller sees both sites, a site-scoped one
// only its own.
func checkSitesListed(t *testing.T, f *fixture, p principal, r testenv.Response) {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("sites: %v", err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s["name"].(string))
	}
	want := map[string][]string{"org": {"Mine", "Other"}, "site": {"Mine"}, "othersite": {"Other"}}[p.scope]
	if !slices.Equal(got, want) {
		t.Errorf("sites listed to %s: %v, want %v", p.name, got, want)
	}
}
