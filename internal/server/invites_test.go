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
