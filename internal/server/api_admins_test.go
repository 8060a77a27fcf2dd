package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal"
	"portal/internal/mistspec"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// End-to-end tests of the Administrators API: invitations, members, roles
// and site access, on every database, with Mist's answers validated.

func init() {
	for _, r := range []string{
		"GET /api/v1/orgs/{org_id}/admins",
		"PUT /api/v1/orgs/{org_id}/admins/{admin_id}",
		"DELETE /api/v1/orgs/{org_id}/admins/{admin_id}",
		"POST /api/v1/orgs/{org_id}/invites",
		"PUT /api/v1/orgs/{org_id}/invites/{invite_id}",
		"DELETE /api/v1/orgs/{org_id}/invites/{invite_id}",
		"POST /api/v1/invite/verify/{token}",
	} {
		mistRoutes[r] = true
	}
}

const (
	admPassword       = "correct horse 7"
	subjectInviteAcme = "Test User invited you to join Acme on Portal"
	subjectRoleAcme   = "Your role in Acme has changed"
	subjectRevokeAcme = "Your access to Acme was removed"
)

func orgPriv(role string) []map[string]any {
	return []map[string]any{{"scope": "org", "role": role}}
}

func sitePrivs(role string, siteIDs ...string) []map[string]any {
	var out []map[string]any
	for _, id := range siteIDs {
		out = append(out, map[string]any{"scope": "site", "role": role, "site_id": id})
	}
	return out
}

// admins returns GET /api/v1/orgs/{org}/admins.
func (e *apiEnv) admins(c *http.Client, org string) []map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/orgs/"+org+"/admins", nil)
	e.want(r, 200, "list admins")
	return e.list(r)
}

// adminsRaw returns the list as JSON, to compare before and after.
func (e *apiEnv) adminsRaw(c *http.Client, org string) string {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/orgs/"+org+"/admins", nil)
	e.want(r, 200, "list admins")
	return string(r.Body)
}

// adminRow returns the row of the list for an address, or nil.
func (e *apiEnv) adminRow(c *http.Client, org, email string) map[string]any {
	e.t.Helper()
	for _, a := range e.admins(c, org) {
		if strings.EqualFold(a["email"].(string), email) {
			return a
		}
	}
	return nil
}

// invite posts an invitation and expects 200; it returns the invitation.
func (e *apiEnv) invite(c *http.Client, org, email string, privs []map[string]any) map[string]any {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": email, "first_name": "Bob", "last_name": "Jones", "privileges": privs})
	e.want(r, 200, "invite "+email)
	return r.JSON(e.t)
}

// inviteToken returns the token of the n-th invitation to Acme mailed to addr.
func (e *apiEnv) inviteToken(addr string, n int) string {
	e.t.Helper()
	return e.linkToken(e.waitMail(addr, subjectInviteAcme, n), "/invite?token=")
}

// orgAudit returns the messages of the organization's audit entries.
func (e *apiEnv) orgAudit(org string) []string {
	e.t.Helper()
	now := e.st.Clock.Now()
	entries, _, err := e.st.DB.ListAudit(context.Background(), store.AuditQuery{OrgID: org, Start: now.Add(-30 * 24 * time.Hour), End: now.Add(time.Hour),
		Page: portal.Page{Limit: 1000, Page: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		out = append(out, en.Message)
	}
	return out
}

func hasMessage(msgs []string, prefix string) bool {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// privsOf returns the caller's privileges in org from /self.
func (e *apiEnv) privsOf(c *http.Client, org string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, p := range e.self(c)["privileges"].([]any) {
		if m := p.(map[string]any); m["org_id"] == org {
			out = append(out, m)
		}
	}
	return out
}

// acme signs up Ann, the Super User of Acme, which has the sites HQ and
// Branch; it returns her client, the ids of the organization and sites,
// and her admin_id.
func (e *apiEnv) acme() (ann *http.Client, org, hq, branch, annID string) {
	e.t.Helper()
	ann = e.signUp("ann@example.com", admPassword, "Acme")
	org = e.firstOrg(ann)
	hq, branch = e.createSite(ann, org, "HQ"), e.createSite(ann, org, "Branch")
	return ann, org, hq, branch, e.self(ann)["admin_id"].(string)
}

// TestAPIInvite: a Super User invites an existing user and a new address;
// the existing user accepts through the Mist path, the new one signs up
// from the link; the list shows members and invitations with their status.
func TestAPIInvite(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann, org, hq, branch, annID := e.acme()

		list := e.admins(ann, org)
		if len(list) != 1 || list[0]["admin_id"] != annID || list[0]["status"] != "active" || list[0]["email"] != "ann@example.com" {
			t.Fatalf("admins of a new org = %v", list)
		}
		if p := list[0]["privileges"].([]any)[0].(map[string]any); p["role"] != "admin" || p["scope"] != "org" || p["org_id"] != org || p["name"] != "Acme" {
			t.Errorf("creator's privilege = %v", p)
		}

		// Invite an existing user (bob) as Network Admin of two sites.
		bob := e.signUp("bob@example.com", admPassword, "")
		sent := e.st.Clock.Now()
		inv := e.invite(ann, org, "Bob@Example.com", sitePrivs("write", hq, branch))
		if inv["invite_id"] == nil || inv["admin_id"] != nil || inv["status"] != "invite_pending" || inv["hours"] != float64(168) ||
			inv["expire_time"] != float64(sent.Add(168*time.Hour).Unix()) || inv["invited_by"] != "Test User" {
			t.Errorf("invitation = %v", inv)
		}
		if ps := inv["privileges"].([]any); len(ps) != 2 || ps[0].(map[string]any)["name"] != "Branch" || ps[1].(map[string]any)["site_id"] != hq {
			t.Errorf("invitation privileges = %v", ps)
		}
		m := e.waitMail("Bob@Example.com", subjectInviteAcme, 1)
		for _, want := range []string{"Network Admin", "Branch, HQ", "7 days", "Test User"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("invitation mail lacks %q:\n%s", want, m.Text)
			}
		}
		token := e.linkToken(m, "/invite?token=")
		if !hasMessage(e.orgAudit(org), "Invited bob@example.com as Network Admin (Branch, HQ)") { // the address normalised
			t.Errorf("no audit entry for the invitation: %v", e.orgAudit(org))
		}
		if row := e.adminRow(ann, org, "bob@example.com"); row == nil || row["status"] != "invite_pending" || row["invite_id"] != inv["invite_id"] {
			t.Errorf("bob's row before accepting = %v", row)
		}

		// Bob accepts: he is in Acme with exactly those sites.
		r := e.do(bob, "POST", "/api/v1/invite/verify/"+token, nil)
		e.want(r, 200, "accept")
		if j := r.JSON(t); j["org_id"] != org || !strings.Contains(j["detail"].(string), "Acme") {
			t.Errorf("accept answer = %s", r.Body)
		}
		privs := e.privsOf(bob, org)
		if len(privs) != 2 || privs[0]["role"] != "write" || privs[0]["scope"] != "site" || privs[0]["name"] != "Branch" || privs[1]["site_id"] != hq {
			t.Errorf("bob's privileges in Acme = %v", privs)
		}
		e.want(e.do(bob, "GET", "/api/v1/orgs/"+org, nil), 200, "bob reads Acme")
		row := e.adminRow(ann, org, "bob@example.com")
		if row == nil || row["status"] != "active" || row["admin_id"] != e.self(bob)["admin_id"] || row["invite_id"] != nil {
			t.Errorf("bob's row after accepting = %v", row)
		}
		if !hasMessage(e.orgAudit(org), "Accepted the invitation to Acme as Network Admin (Branch, HQ)") {
			t.Errorf("no audit entry for the acceptance: %v", e.orgAudit(org))
		}

		// A new address (cat) signs up from the link with the GUI form:
		// no registration mail, verified at once, signed in, in Acme.
		e.invite(ann, org, "cat@example.com", orgPriv("read"))
		catToken := e.inviteToken("cat@example.com", 1)
		cat := e.st.Client()
		form := url.Values{"token": {catToken}, "first_name": {"Cat"}, "last_name": {"Stevens"}, "new_password": {admPassword}, "new_password_confirm": {admPassword}}
		res, err := cat.PostForm(e.st.URL+"/invite/signup", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/orgs/"+org {
			t.Fatalf("sign up from the invitation: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		me := e.self(cat)
		if me["email"] != "cat@example.com" || me["first_name"] != "Cat" {
			t.Errorf("cat's account = %v", me)
		}
		if privs := e.privsOf(cat, org); len(privs) != 1 || privs[0]["role"] != "read" || privs[0]["scope"] != "org" {
			t.Errorf("cat's privileges = %v", privs)
		}
		if _, r := e.login("cat@example.com", admPassword); r.Status != 200 {
			t.Errorf("cat logs in with the chosen password: %d %s", r.Status, r.Body)
		}
		for _, m := range e.mailsTo("cat@example.com") {
			if m.Subject == subjectVerify {
				t.Errorf("cat got a verification mail; the invitation verifies the address")
			}
		}

		// The list: members by last name, then invitations.
		e.invite(ann, org, "dan@example.com", orgPriv("installer"))
		list = e.admins(ann, org)
		var emails, statuses []string
		for _, a := range list {
			emails, statuses = append(emails, a["email"].(string)), append(statuses, a["status"].(string))
		}
		// Cat Stevens, then Test User (ann, bob: same name, by address).
		if strings.Join(emails, " ") != "cat@example.com ann@example.com bob@example.com dan@example.com" ||
			strings.Join(statuses, " ") != "active active active invite_pending" {
			t.Errorf("admins = %v %v", emails, statuses)
		}
		r = e.do(ann, "GET", "/api/v1/orgs/"+org+"/admins?limit=2&page=2", nil)
		e.want(r, 200, "second page of admins")
		if got := e.list(r); len(got) != 2 || r.Header.Get("X-Page-Total") != "4" || got[1]["email"] != "dan@example.com" {
			t.Errorf("page 2 = %s (total %s)", r.Body, r.Header.Get("X-Page-Total"))
		}

		// Inviting again replaces the open invitation: same id, new link
		// (the old one no longer works), new role.
		dan1 := e.inviteToken("dan@example.com", 1)
		e.st.Clock.Advance(time.Hour)
		again := e.invite(ann, org, "DAN@example.com", sitePrivs("helpdesk", hq))
		if again["invite_id"] != e.adminRow(ann, org, "dan@example.com")["invite_id"] || len(e.admins(ann, org)) != 4 {
			t.Errorf("re-invite made a second invitation: %v", e.admins(ann, org))
		}
		dan2 := e.inviteToken("dan@example.com", 2)
		if dan2 == dan1 {
			t.Fatal("the re-sent invitation has the same link")
		}
		dan := e.signUp("dan@example.com", admPassword, "")
		r = e.do(dan, "POST", "/api/v1/invite/verify/"+dan1, nil)
		e.want(r, 404, "the replaced link")
		e.want(e.do(dan, "POST", "/api/v1/invite/verify/"+dan2, nil), 200, "the new link")
		if privs := e.privsOf(dan, org); len(privs) != 1 || privs[0]["role"] != "helpdesk" || privs[0]["site_id"] != hq {
			t.Errorf("dan's privileges = %v", privs)
		}
	})
}

// TestAPIInviteBadInput: every refused invitation is a clear 400 (or
// 403/404 for who may not), and nothing is stored or mailed.
func TestAPIInviteBadInput(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "Acme")
		org := e.firstOrg(ann)
		hq := e.createSite(ann, org, "HQ")
		zed := e.signUp("zed@example.com", admPassword, "Other")
		other := e.firstOrg(zed)
		foreignSite := e.createSite(zed, other, "Elsewhere")
		member := e.signUp("member@example.com", admPassword, "")
		e.invite(ann, org, "member@example.com", orgPriv("read"))
		e.want(e.do(member, "POST", "/api/v1/invite/verify/"+e.inviteToken("member@example.com", 1), nil), 200, "member joins")
		before := e.adminsRaw(ann, org)
		mailsBefore := len(e.st.SMTP.Messages())

		base := func(over map[string]any) map[string]any {
			b := map[string]any{"email": "new@example.com", "first_name": "New", "last_name": "Person", "privileges": orgPriv("read")}
			for k, v := range over {
				b[k] = v
			}
			return b
		}
		for _, tc := range []struct {
			name   string
			body   any
			status int
			detail string
		}{
			{"existing member", base(map[string]any{"email": "MEMBER@example.com"}), 400, "already a member of Acme"},
			{"the Super User herself", base(map[string]any{"email": "ann@example.com"}), 400, "already a member"},
			{"bad email", base(map[string]any{"email": "not-an-address"}), 400, "not a valid email address"},
			{"no email", base(map[string]any{"email": ""}), 400, "email is required"},
			{"no first name", base(map[string]any{"first_name": " "}), 400, "first_name is required"},
			{"long last name", base(map[string]any{"last_name": strings.Repeat("x", 65)}), 400, "last_name must be at most 64"},
			{"no privileges", base(map[string]any{"privileges": []any{}}), 400, "privileges is required"},
			{"privileges missing", map[string]any{"email": "new@example.com", "first_name": "N", "last_name": "P"}, 400, "privileges is required"},
			{"unknown role", base(map[string]any{"privileges": orgPriv("owner")}), 400, `role "owner" is not a role`},
			{"no role", base(map[string]any{"privileges": []map[string]any{{"scope": "org"}}}), 400, "role is required"},
			{"msp scope", base(map[string]any{"privileges": []map[string]any{{"scope": "msp", "role": "read"}}}), 400, `scope "msp" is not supported`},
			{"no scope", base(map[string]any{"privileges": []map[string]any{{"role": "read"}}}), 400, "scope is required"},
			{"site of another org", base(map[string]any{"privileges": sitePrivs("write", foreignSite)}), 400, "is not a site of this organization"},
			{"unknown site", base(map[string]any{"privileges": sitePrivs("write", "00000000-0000-4000-8000-000000000001")}), 400, "is not a site of this organization"},
			{"site id not a uuid", base(map[string]any{"privileges": sitePrivs("write", "HQ")}), 400, "is not a site id"},
			{"site scope without site", base(map[string]any{"privileges": []map[string]any{{"scope": "site", "role": "write"}}}), 400, "site_id is required"},
			{"org scope with a site", base(map[string]any{"privileges": []map[string]any{{"scope": "org", "role": "write", "site_id": hq}}}), 400, "has no site_id"},
			{"helpdesk without sites", base(map[string]any{"privileges": orgPriv("helpdesk")}), 400, "Helpdesk (helpdesk) works on sites"},
			{"super user on a site", base(map[string]any{"privileges": sitePrivs("admin", hq)}), 400, "Super User (admin) has the whole organization"},
			{"two roles", base(map[string]any{"privileges": append(sitePrivs("write", hq), orgPriv("read")...)}), 400, "same role"},
			{"org and site scope", base(map[string]any{"privileges": append(orgPriv("write"), sitePrivs("write", hq)...)}), 400, "mix scope org and scope site"},
			{"another org's id", base(map[string]any{"privileges": []map[string]any{{"scope": "org", "role": "read", "org_id": other}}}), 400, "must be this organization's id"},
			{"hours 0", base(map[string]any{"hours": 0}), 400, "hours must be between 1 and 168"},
			{"hours 169", base(map[string]any{"hours": 169}), 400, "hours must be between 1 and 168"},
			{"hours -5", base(map[string]any{"hours": -5}), 400, "hours must be between 1 and 168"},
			{"hours not a number", base(map[string]any{"hours": "a week"}), 400, `field "hours" must be of type number`},
			{"hours fraction", base(map[string]any{"hours": 1.5}), 400, `"hours"`},
			{"privileges not an array", base(map[string]any{"privileges": "admin"}), 400, `"privileges" must be of type array`},
		} {
			r := e.do(ann, "POST", "/api/v1/orgs/"+org+"/invites", tc.body)
			if r.Status != tc.status || !strings.Contains(e.detail(r), tc.detail) {
				t.Errorf("%s: %d %s; want %d with %q", tc.name, r.Status, r.Body, tc.status, tc.detail)
			}
		}
		// Who may not invite: a member who is not a Super User (403), an
		// outsider (404), nobody signed in (401).
		r := e.do(member, "POST", "/api/v1/orgs/"+org+"/invites", base(nil))
		if r.Status != 403 || !strings.Contains(e.detail(r), "Super User") {
			t.Errorf("Observer invites: %d %s", r.Status, r.Body)
		}
		e.want(e.do(member, "GET", "/api/v1/orgs/"+org+"/admins", nil), 403, "Observer lists admins")
		e.want(e.do(zed, "POST", "/api/v1/orgs/"+org+"/invites", base(nil)), 404, "outsider invites")
		e.want(e.do(zed, "GET", "/api/v1/orgs/"+org+"/admins", nil), 404, "outsider lists admins")
		e.want(e.do(e.st.Client(), "POST", "/api/v1/orgs/"+org+"/invites", base(nil)), 401, "anonymous invites")
		e.want(e.do(ann, "POST", "/api/v1/orgs/not-a-uuid/invites", base(nil)), 404, "bad org id")

		if after := e.adminsRaw(ann, org); after != before {
			t.Errorf("refused invitations changed the list:\nbefore %s\nafter  %s", before, after)
		}
		time.Sleep(200 * time.Millisecond) // the worker would have sent by now
		if n := len(e.st.SMTP.Messages()); n != mailsBefore {
			t.Errorf("refused invitations sent %d mails", n-mailsBefore)
		}
		for _, m := range e.orgAudit(org) {
			if strings.Contains(m, "new@example.com") {
				t.Errorf("refused invitation audited: %q", m)
			}
		}

		// Mails to one address are limited.
		for i := range 5 {
			e.want(e.do(ann, "POST", "/api/v1/orgs/"+org+"/invites", base(nil)), 200, "invite #"+string(rune('1'+i)))
		}
		r = e.do(ann, "POST", "/api/v1/orgs/"+org+"/invites", base(nil))
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(e.detail(r), "too many invitations") {
			t.Errorf("sixth invitation in an hour: %d %s", r.Status, r.Body)
		}
	})
}

// TestAPIInviteLinks: links that cannot be used say why, and change nothing.
func TestAPIInviteLinks(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "Acme")
		org := e.firstOrg(ann)
		bob := e.signUp("bob@example.com", admPassword, "")
		cat := e.signUp("cat@example.com", admPassword, "")
		verify := func(c *http.Client, token string) testenv.Response {
			t.Helper()
			return e.do(c, "POST", "/api/v1/invite/verify/"+token, nil)
		}
		wantRefused := func(r testenv.Response, status int, detail, what string) {
			t.Helper()
			if r.Status != status || !strings.Contains(e.detail(r), detail) {
				t.Errorf("%s: %d %s; want %d with %q", what, r.Status, r.Body, status, detail)
			}
		}

		// Accepted by another signed-in user: 403, nothing changed.
		inv := e.invite(ann, org, "bob@example.com", orgPriv("write"))
		token := e.inviteToken("bob@example.com", 1)
		before := e.adminsRaw(ann, org)
		wantRefused(verify(cat, token), 403, "this invitation is for bob@example.com, but you are logged in as cat@example.com", "cat uses bob's link")
		wantRefused(e.do(cat, "POST", "/api/v1/invite/decline/"+token, nil), 403, "this invitation is for bob@example.com", "cat declines bob's link")
		if len(e.privsOf(cat, org)) != 0 || e.adminsRaw(ann, org) != before {
			t.Errorf("a refused link changed something")
		}
		// No session: 401; an unknown token: 404 (Mist's InviteVerifyNotFound).
		wantRefused(verify(e.st.Client(), token), 401, "authentication required", "no session")
		wantRefused(verify(bob, "no-such-token"), 404, "invalid or was replaced", "unknown token")
		wantRefused(verify(bob, strings.Repeat("x", 300)), 404, "invalid", "huge token")

		// Reused.
		e.want(verify(bob, token), 200, "bob accepts")
		wantRefused(verify(bob, token), 400, "already been accepted", "accepted twice")
		wantRefused(e.do(bob, "POST", "/api/v1/invite/decline/"+token, nil), 400, "already been accepted", "declined after accepting")
		wantRefused(e.do(ann, "DELETE", "/api/v1/orgs/"+org+"/invites/"+inv["invite_id"].(string), nil), 400, "already been accepted", "cancel an accepted invitation")

		// Expired: refused, shown as Invite Expired; editing re-sends it.
		e.invite(ann, org, "cat@example.com", orgPriv("read"))
		old := e.inviteToken("cat@example.com", 1)
		catRow := e.adminRow(ann, org, "cat@example.com")
		e.st.Clock.Advance(168*time.Hour + time.Second)
		ann, _ = e.login("ann@example.com", admPassword) // the sessions expired meanwhile
		cat, _ = e.login("cat@example.com", admPassword)
		wantRefused(verify(cat, old), 400, "this invitation has expired; ask a Super User of Acme", "expired")
		if row := e.adminRow(ann, org, "cat@example.com"); row["status"] != "invite_expired" {
			t.Errorf("expired invitation's row = %v", row)
		}
		if len(e.privsOf(cat, org)) != 0 {
			t.Error("an expired link gave access")
		}
		r := e.do(ann, "PUT", "/api/v1/orgs/"+org+"/invites/"+catRow["invite_id"].(string), map[string]any{"privileges": orgPriv("write"), "hours": 24})
		e.want(r, 200, "re-send the expired invitation")
		if j := r.JSON(t); j["status"] != "invite_pending" || j["hours"] != float64(24) || j["expire_time"] != float64(e.st.Clock.Now().Add(24*time.Hour).Unix()) {
			t.Errorf("re-sent invitation = %s", r.Body)
		}
		renewed := e.inviteToken("cat@example.com", 2)
		wantRefused(verify(cat, old), 404, "replaced by a newer one", "the expired link after re-sending")
		e.want(verify(cat, renewed), 200, "the re-sent link")
		if privs := e.privsOf(cat, org); len(privs) != 1 || privs[0]["role"] != "write" {
			t.Errorf("cat's privileges = %v", privs)
		}

		// Cancelled.
		dan := e.signUp("dan@example.com", admPassword, "")
		danInv := e.invite(ann, org, "dan@example.com", orgPriv("read"))
		danToken := e.inviteToken("dan@example.com", 1)
		e.want(e.do(ann, "DELETE", "/api/v1/orgs/"+org+"/invites/"+danInv["invite_id"].(string), nil), 200, "cancel")
		wantRefused(verify(dan, danToken), 400, "cancelled by a Super User of Acme", "cancelled link")
		wantRefused(e.do(ann, "DELETE", "/api/v1/orgs/"+org+"/invites/"+danInv["invite_id"].(string), nil), 400, "already cancelled", "cancel twice")
		if e.adminRow(ann, org, "dan@example.com") != nil {
			t.Error("a cancelled invitation is still listed")
		}
		if !hasMessage(e.orgAudit(org), "Cancelled the invitation of dan@example.com") {
			t.Errorf("no audit entry for the cancellation: %v", e.orgAudit(org))
		}

		// Declined, as the invited user.
		e.invite(ann, org, "dan@example.com", orgPriv("read"))
		danToken = e.inviteToken("dan@example.com", 2)
		r = e.do(dan, "POST", "/api/v1/invite/decline/"+danToken, nil)
		e.want(r, 200, "decline")
		wantRefused(verify(dan, danToken), 400, "this invitation was declined", "accept after declining")
		if e.adminRow(ann, org, "dan@example.com") != nil || len(e.privsOf(dan, org)) != 0 {
			t.Error("a declined invitation left traces")
		}
		if !hasMessage(e.orgAudit(org), "Declined the invitation to Acme") {
			t.Errorf("no audit entry for the decline: %v", e.orgAudit(org))
		}

		// From the GUI without a session: an address with no account may
		// decline with the link alone; one with an account must log in.
		e.invite(ann, org, "gus@example.com", orgPriv("read"))
		gusToken := e.inviteToken("gus@example.com", 1)
		e.invite(ann, org, "dan@example.com", orgPriv("read"))
		danToken = e.inviteToken("dan@example.com", 3)
		postForm := func(token string) (int, string) {
			t.Helper()
			res, err := e.st.Client().PostForm(e.st.URL+"/invite/decline", url.Values{"token": {token}})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var b strings.Builder
			_, _ = io.Copy(&b, res.Body)
			return res.StatusCode, b.String()
		}
		if st, body := postForm(danToken); st != 401 || !strings.Contains(body, "Log in as dan@example.com to decline this invitation") {
			t.Errorf("anonymous decline of an account's invitation: %d", st)
		}
		if row := e.adminRow(ann, org, "dan@example.com"); row == nil || row["status"] != "invite_pending" {
			t.Errorf("dan's invitation after a refused decline = %v", row)
		}
		if st, body := postForm(gusToken); st != 200 || !strings.Contains(body, "You declined the invitation to <strong>Acme</strong>") {
			t.Errorf("anonymous decline without an account: %d", st)
		}
		if e.adminRow(ann, org, "gus@example.com") != nil {
			t.Error("gus's declined invitation is still listed")
		}

		// A link whose sites were all deleted cannot be accepted.
		site := e.createSite(ann, org, "Lab")
		eve := e.signUp("eve@example.com", admPassword, "")
		e.invite(ann, org, "eve@example.com", sitePrivs("write", site))
		eveToken := e.inviteToken("eve@example.com", 1)
		e.want(e.do(ann, "DELETE", "/api/v1/sites/"+site, nil), 200, "delete the site")
		wantRefused(verify(eve, eveToken), 400, "the sites of this invitation no longer exist", "invitation without its sites")
		if len(e.privsOf(eve, org)) != 0 {
			t.Error("an invitation without its sites gave access")
		}

		// Invitations of other organizations are not found through this one.
		zed := e.signUp("zed@example.com", admPassword, "Zed Org")
		zorg := e.firstOrg(zed)
		zinv := e.do(zed, "POST", "/api/v1/orgs/"+zorg+"/invites", map[string]any{"email": "x@example.com", "first_name": "X", "last_name": "Y", "privileges": orgPriv("read")})
		e.want(zinv, 200, "zed invites")
		zid := zinv.JSON(t)["invite_id"].(string)
		e.want(e.do(ann, "DELETE", "/api/v1/orgs/"+org+"/invites/"+zid, nil), 404, "cancel another org's invitation")
		e.want(e.do(ann, "PUT", "/api/v1/orgs/"+org+"/invites/"+zid, map[string]any{}), 404, "edit another org's invitation")
		e.want(e.do(ann, "PUT", "/api/v1/orgs/"+org+"/invites/"+zid, map[string]any{"email": "other@example.com"}), 404, "edit another org's invitation's address")
	})
}

// TestAPIAdminsManage: Super Users change roles and site access and revoke
// members; the last Super User stays; nobody raises their own role; every
// change is audited and mailed, and a revoked member's next request fails.
func TestAPIAdminsManage(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann, org, hq, branch, annID := e.acme()
		bob := e.signUp("bob@example.com", admPassword, "")
		bobID := e.self(bob)["admin_id"].(string)
		e.invite(ann, org, "bob@example.com", orgPriv("read"))
		e.want(e.do(bob, "POST", "/api/v1/invite/verify/"+e.inviteToken("bob@example.com", 1), nil), 200, "bob joins")
		zed := e.signUp("zed@example.com", admPassword, "Other")
		otherSite := e.createSite(zed, e.firstOrg(zed), "Elsewhere")
		admin := func(id string) string { return "/api/v1/orgs/" + org + "/admins/" + id }
		refused := func(r testenv.Response, status int, detail, what string) {
			t.Helper()
			if r.Status != status || !strings.Contains(e.detail(r), detail) {
				t.Errorf("%s: %d %s; want %d with %q", what, r.Status, r.Body, status, detail)
			}
		}

		// Only Super Users manage; outsiders do not see the organization.
		before := e.adminsRaw(ann, org)
		refused(e.do(bob, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("admin")}), 403, "you cannot raise your own role", "Observer makes himself Super User")
		refused(e.do(bob, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("write")}), 403, "you cannot raise your own role", "Observer makes himself Network Admin")
		refused(e.do(bob, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("installer")}), 403, "you cannot raise your own role", "Observer makes himself Installer")
		refused(e.do(bob, "PUT", admin(annID), map[string]any{"privileges": orgPriv("read")}), 403, "Super User", "Observer demotes the Super User")
		refused(e.do(bob, "DELETE", admin(annID), nil), 403, "Super User", "Observer revokes the Super User")
		refused(e.do(zed, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("admin")}), 404, "not found", "outsider changes a role")
		refused(e.do(zed, "DELETE", admin(bobID), nil), 404, "not found", "outsider revokes")
		if after := e.adminsRaw(ann, org); after != before {
			t.Errorf("refused changes changed the list:\nbefore %s\nafter  %s", before, after)
		}

		// Bad changes: 400 (or 404), nothing changed.
		for _, tc := range []struct {
			name, id string
			body     any
			status   int
			detail   string
		}{
			{"unknown role", bobID, map[string]any{"privileges": orgPriv("root")}, 400, "is not a role"},
			{"site of another org", bobID, map[string]any{"privileges": sitePrivs("write", otherSite)}, 400, "is not a site of this organization"},
			{"helpdesk without sites", bobID, map[string]any{"privileges": orgPriv("helpdesk")}, 400, "Helpdesk"},
			{"no privileges", bobID, map[string]any{}, 400, "privileges is required"},
			{"not a member", e.self(zed)["admin_id"].(string), map[string]any{"privileges": orgPriv("read")}, 404, "not found"},
			{"unknown id", "00000000-0000-4000-8000-000000000002", map[string]any{"privileges": orgPriv("read")}, 404, "not found"},
			{"not a uuid", "bob", map[string]any{"privileges": orgPriv("read")}, 404, "not found"},
			{"last Super User demotes herself", annID, map[string]any{"privileges": orgPriv("write")}, 400, "is the last Super User of Acme"},
		} {
			refused(e.do(ann, "PUT", admin(tc.id), tc.body), tc.status, tc.detail, tc.name)
		}
		refused(e.do(ann, "DELETE", admin(annID), nil), 400, "is the last Super User of Acme", "last Super User leaves")
		refused(e.do(ann, "DELETE", admin(e.self(zed)["admin_id"].(string)), nil), 404, "not found", "revoke a non-member")
		if after := e.adminsRaw(ann, org); after != before {
			t.Errorf("refused changes changed the list:\nbefore %s\nafter  %s", before, after)
		}

		// Ann gives Bob two sites as Network Admin: Bob is mailed, it is audited.
		r := e.do(ann, "PUT", admin(bobID), map[string]any{"privileges": sitePrivs("write", hq, branch)})
		e.want(r, 200, "change bob's role")
		if j := r.JSON(t); j["admin_id"] != bobID || len(j["privileges"].([]any)) != 2 || j["status"] != "active" {
			t.Errorf("changed admin = %s", r.Body)
		}
		if privs := e.privsOf(bob, org); len(privs) != 2 || privs[0]["role"] != "write" || privs[0]["name"] != "Branch" {
			t.Errorf("bob's privileges = %v", privs)
		}
		m := e.waitMail("bob@example.com", subjectRoleAcme, 1)
		if !strings.Contains(m.Text, "Network Admin, with access to Branch, HQ") || smtptest.FindLink(m.Text, e.st.URL+"/orgs/"+org) == "" {
			t.Errorf("role mail:\n%s", m.Text)
		}
		if !hasMessage(e.orgAudit(org), "Changed the role of bob@example.com to Network Admin (Branch, HQ)") {
			t.Errorf("no audit entry: %v", e.orgAudit(org))
		}
		// A Network Admin cannot widen his own sites either.
		refused(e.do(bob, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("write")}), 403, "widen your own site access", "widen own sites")

		// Two Super Users: either may step down, not the last one.
		e.want(e.do(ann, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("admin")}), 200, "make bob Super User")
		e.want(e.do(ann, "PUT", admin(annID), map[string]any{"privileges": orgPriv("read")}), 200, "ann steps down")
		refused(e.do(ann, "PUT", admin(annID), map[string]any{"privileges": orgPriv("admin")}), 403, "you cannot raise your own role", "ann raises herself back")
		refused(e.do(bob, "PUT", admin(bobID), map[string]any{"privileges": orgPriv("write")}), 400, "last Super User", "bob steps down as the last one")
		for _, m := range e.mailsTo("ann@example.com") {
			if m.Subject == subjectRoleAcme {
				t.Error("ann was mailed about her own change")
			}
		}

		// Revoke: ann's next request to the organization is not found.
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+org, nil), 200, "ann still reads Acme")
		e.want(e.do(bob, "DELETE", admin(annID), nil), 200, "bob revokes ann")
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+org, nil), 404, "ann after revocation")
		e.want(e.do(ann, "GET", "/api/v1/orgs/"+org+"/sites", nil), 404, "ann's sites after revocation")
		if len(e.privsOf(ann, org)) != 0 {
			t.Error("ann keeps privileges")
		}
		m = e.waitMail("ann@example.com", subjectRevokeAcme, 1)
		if !strings.Contains(m.Text, "(you were Observer for the whole organization)") {
			t.Errorf("revocation mail:\n%s", m.Text)
		}
		if !hasMessage(e.orgAudit(org), "Revoked the access of ann@example.com to Acme") {
			t.Errorf("no audit entry: %v", e.orgAudit(org))
		}
		refused(e.do(bob, "DELETE", admin(annID), nil), 404, "not found", "revoke twice")
		refused(e.do(bob, "DELETE", admin(bobID), nil), 400, "last Super User", "the last Super User revokes himself")

		// The member routes also take an invitation's id.
		inv := e.do(bob, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": "cat@example.com", "first_name": "Cat", "last_name": "S", "privileges": orgPriv("read")})
		e.want(inv, 200, "invite cat")
		invID := inv.JSON(t)["invite_id"].(string)
		e.waitMail("cat@example.com", subjectInviteAcme, 1) // mails are not ordered unless waited for
		r = e.do(bob, "PUT", admin(invID), map[string]any{"privileges": sitePrivs("installer", hq)})
		e.want(r, 200, "edit the invitation through the member path")
		if j := r.JSON(t); j["invite_id"] != invID || j["privileges"].([]any)[0].(map[string]any)["role"] != "installer" {
			t.Errorf("edited invitation = %s", r.Body)
		}
		m = e.waitMail("cat@example.com", "Test User invited you to join Acme on Portal", 2)
		if !strings.Contains(m.Text, "Installer") {
			t.Errorf("re-sent invitation:\n%s", m.Text)
		}
		e.want(e.do(bob, "DELETE", admin(invID), nil), 200, "cancel through the member path")
		if e.adminRow(bob, org, "cat@example.com") != nil {
			t.Error("invitation still listed")
		}
	})
}

// TestAPIAdminsLastSuperUserRace: two Super Users demote each other at the
// same moment; exactly one succeeds, so the organization keeps one.
func TestAPIAdminsLastSuperUserRace(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "")
		annID := e.self(ann)["admin_id"].(string)
		bob := e.signUp("bob@example.com", admPassword, "")
		bobID := e.self(bob)["admin_id"].(string)
		for round := range 5 {
			name := "Race " + string(rune('A'+round))
			r := e.do(ann, "POST", "/api/v1/orgs", map[string]any{"name": name})
			e.want(r, 200, "create "+name)
			org := r.JSON(t)["id"].(string)
			e.invite(ann, org, "bob@example.com", orgPriv("admin"))
			token := e.linkToken(e.waitMail("bob@example.com", "Test User invited you to join "+name+" on Portal", 1), "/invite?token=")
			e.want(e.do(bob, "POST", "/api/v1/invite/verify/"+token, nil), 200, "bob joins as Super User")

			demote := func(c *http.Client, target string) func() int {
				return func() int {
					return putJSON(e.st, c, "/api/v1/orgs/"+org+"/admins/"+target, map[string]any{"privileges": orgPriv("read")})
				}
			}
			// 400, 403: the last Super User, or no longer one.
			status, ok := race(t, name, []int{400, 403}, demote(ann, bobID), demote(bob, annID))
			n, err := e.st.DB.CountOrgAdmins(context.Background(), org)
			if err != nil {
				t.Fatal(err)
			}
			if ok != 1 || n != 1 {
				t.Fatalf("%s: %d demotions succeeded (%v), %d Super Users left; want exactly 1 and 1", name, ok, status, n)
			}
		}
	})
}

// putJSON sends a PUT as a Mist client does, from any goroutine, and
// returns the status (0 when the request failed).
func putJSON(st *testenv.Stack, c *http.Client, path string, body any) int {
	status, _ := sendJSON(st, c, "PUT", path, body)
	return status
}

// sendJSON sends a request with a JSON body as a Mist client does, from
// any goroutine, and returns the status (0 when the request failed) and
// the detail of an error answer.
func sendJSON(st *testenv.Stack, c *http.Client, method, path string, body any) (status int, detail string) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, st.URL+path, bytes.NewReader(b))
	if err != nil {
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	u, _ := url.Parse(st.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "csrftoken" {
			req.Header.Set("X-CSRFToken", ck.Value)
		}
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	var answer struct{ Detail string }
	_ = json.NewDecoder(res.Body).Decode(&answer)
	return res.StatusCode, answer.Detail
}
