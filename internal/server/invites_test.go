package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIDeclineInviteWithoutSession: the API's decline is public, as the
// GUI's is; a session, when sent, must still be the invited address.
func TestAPIDeclineInviteWithoutSession(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "Acme")
		org := e.orgIDs(ann)[0]
		e.invite(ann, org, "bob@example.com", orgPriv("read"))
		token := e.inviteToken("bob@example.com", 1)
		r := e.do(ann, "POST", "/api/v1/invite/decline/"+token, nil)
		e.want(r, 403, "ann declines bob's invitation")
		r = e.do(e.st.Client(), "POST", "/api/v1/invite/decline/"+token, nil)
		e.want(r, 200, "decline without a session")
		if j := r.JSON(t); j["org_id"] != org || j["org_name"] != "Acme" {
			t.Errorf("decline answer = %s", r.Body)
		}
		if e.adminRow(ann, org, "bob@example.com") != nil {
			t.Error("the declined invitation is still listed")
		}
		r = e.do(e.st.Client(), "POST", "/api/v1/invite/decline/no-such-token", nil)
		e.want(r, 404, "unknown token")
	})
}

// TestInviteResendKeepsValidity: re-sending an invitation without hours
// keeps the validity it was given, and the GUI says how long it is.
func TestInviteResendKeepsValidity(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "Acme")
		org := e.orgIDs(ann)[0]
		r := e.do(ann, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": "bob@example.com", "first_name": "Bob", "last_name": "Jones", "privileges": orgPriv("read"), "hours": 24})
		e.want(r, 200, "invite for 24 hours")
		id := r.JSON(t)["invite_id"].(string)
		e.st.Clock.Advance(time.Hour)
		r = e.do(ann, "PUT", "/api/v1/orgs/"+org+"/invites/"+id, map[string]any{"privileges": orgPriv("write")})
		e.want(r, 200, "re-send without hours")
		if j := r.JSON(t); j["hours"] != float64(24) || j["expire_time"] != float64(e.st.Clock.Now().Add(24*time.Hour).Unix()) {
			t.Errorf("re-sent invitation = %s", r.Body)
		}
		page := pageText(t, e.st, ann, "/orgs/"+org+"/admins/"+id)
		if !strings.Contains(page, "new link valid for 24 hours") {
			t.Errorf("Manage page: %q", firstLine(page, "Re-sending"))
		}
		r = postForm(t, e.st, ann, "/orgs/"+org+"/admins/"+id+"/reinvite", url.Values{})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("reinvite: %d %s", r.Status, firstLine(string(r.Body), "rror"))
		}
		if page := pageText(t, e.st, ann, "/orgs/"+org+"/admins"); !strings.Contains(page, "the new one is valid for 24 hours") {
			t.Errorf("reinvite flash: %q", firstLine(page, "sent again"))
		}
		if row := e.adminRow(ann, org, "bob@example.com"); row["hours"] != float64(24) {
			t.Errorf("after the GUI re-send: %v", row)
		}
	})
}

// TestHomeListsInvitations: a signed-in user without an organization finds
// the invitations addressed to them on their home page and answers them
// there; another's invitation cannot be answered; a spent link says it was
// accepted and links to the organization.
func TestHomeListsInvitations(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", admPassword, "Acme")
		acme := e.orgIDs(ann)[0]
		cat := e.signUp("cat@example.com", admPassword, "Beta")
		beta := e.orgIDs(cat)[0]
		bob := e.signUp("bob@example.com", admPassword, "")
		if page := pageText(t, e.st, bob, "/"); !strings.Contains(page, "ask a Super User of an existing organization to invite you") || strings.Contains(page, `id="invitations"`) {
			t.Fatalf("home without invitations: %q", firstLine(page, "organization"))
		}
		toAcme := e.invite(ann, acme, "BOB@example.com", orgPriv("read"))["invite_id"].(string)
		toBeta := e.invite(cat, beta, "bob@example.com", orgPriv("write"))["invite_id"].(string)
		toDan := e.invite(ann, acme, "dan@example.com", orgPriv("read"))["invite_id"].(string)
		page := pageText(t, e.st, bob, "/")
		for _, want := range []string{"Invitations are waiting for you", "invited you to join <strong>Acme</strong> as Observer", "invited you to join <strong>Beta</strong> as Network Admin",
			`action="/invites/` + toAcme + `/accept"`, `action="/invites/` + toBeta + `/decline"`} {
			if !strings.Contains(page, want) {
				t.Errorf("home lacks %q", want)
			}
		}
		if strings.Contains(page, toDan) {
			t.Error("home lists another address's invitation")
		}
		// Another's invitation is not found, and stays open.
		r := postForm(t, e.st, bob, "/invites/"+toDan+"/accept", url.Values{})
		if r.Status != http.StatusNotFound {
			t.Errorf("accept dan's invitation: %d", r.Status)
		}
		if e.adminRow(ann, acme, "dan@example.com") == nil {
			t.Error("dan's invitation was closed by bob")
		}
		r = postForm(t, e.st, bob, "/invites/"+toBeta+"/decline", url.Values{})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("decline: %d %s", r.Status, r.Header.Get("Location"))
		}
		if e.adminRow(cat, beta, "bob@example.com") != nil {
			t.Error("the declined invitation is still listed")
		}
		page = pageText(t, e.st, bob, "/")
		if !strings.Contains(page, "You declined the invitation to Beta.") || !strings.Contains(page, "An invitation is waiting for you") || strings.Contains(page, toBeta) {
			t.Errorf("home after declining: %q", firstLine(page, "invitation"))
		}
		r = postForm(t, e.st, bob, "/invites/"+toBeta+"/accept", url.Values{})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "declined") {
			t.Errorf("accept a declined invitation: %d", r.Status)
		}
		r = postForm(t, e.st, bob, "/invites/"+toAcme+"/accept", url.Values{})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/orgs/"+acme {
			t.Fatalf("accept: %d %s", r.Status, r.Header.Get("Location"))
		}
		if row := e.adminRow(ann, acme, "bob@example.com"); row == nil || row["status"] != "active" {
			t.Errorf("bob after accepting: %v", row)
		}
		// The mailed link, reopened, says it was accepted and leads to Acme.
		page = pageText(t, e.st, bob, "/invite?token="+url.QueryEscape(e.inviteToken("bob@example.com", 1)))
		if !strings.Contains(page, "Invitation already accepted") || !strings.Contains(page, `href="/orgs/`+acme+`"`) || strings.Contains(page, "Something went wrong") {
			t.Errorf("accepted link: %q", firstLine(page, "accepted"))
		}
	})
}
