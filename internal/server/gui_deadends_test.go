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

// TestGUINoDeadEnds: the addresses of forms, opened by a reload after a
// failed form, lead to the page of the form; unknown GUI paths get the
// error page (the API keeps its JSON); /favicon.ico leads to the icon.
func TestGUINoDeadEnds(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	c := st.SignUp(t, "owner@example.com", "owner-password", "Acme")
	org := st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	for path, want := range map[string]string{
		"/orgs":                     "/",
		"/orgs/" + org + "/sites":   "/orgs/" + org,
		"/orgs/" + org + "/invites": "/orgs/" + org + "/admins",
		"/account/profile":          "/account#profile",
		"/account/sessions":         "/account#sessions",
		"/account/apitokens/create": "/account#apitokens",
		"/favicon.ico":              "/static/favicon.svg",
	} {
		r := sendRaw(t, st, c, "GET", path, nil, false, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", path, r.Status, r.Header.Get("Location"), want)
		}
	}
	// The pages themselves are still served.
	for _, path := range []string{"/account", "/account/email", "/orgs/" + org, "/orgs/new", "/static/favicon.svg"} {
		if r := sendRaw(t, st, c, "GET", path, nil, false, nil); r.Status != 200 {
			t.Errorf("GET %s: %d", path, r.Status)
		}
	}
	for _, who := range []struct {
		name string
		c    *http.Client
		nav  bool
	}{{"signed in", c, true}, {"anonymous", st.Client(), false}} {
		for _, path := range []string{"/no-such-page", "/orgs/" + org + "/nothing/here", "/static-ish"} {
			r := sendRaw(t, st, who.c, "GET", path, nil, false, nil)
			body := string(r.Body)
			if r.Status != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s GET %s: %d %s, want the 404 page", who.name, path, r.Status, r.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, "Page not found") || !strings.Contains(body, "<title>Not found") {
				t.Errorf("%s GET %s: page lacks its title or message: %s", who.name, path, firstLine(body, "<title>"))
			}
			if got := strings.Contains(body, `href="/account"`); got != who.nav {
				t.Errorf("%s GET %s: navigation shown = %v", who.name, path, got)
			}
		}
		// A form's address that has no page: the error page, not plain text.
		r := sendRaw(t, st, who.c, "GET", "/logout", nil, false, nil)
		if r.Status != http.StatusMethodNotAllowed || !strings.Contains(string(r.Body), "<title>Not allowed") || r.Header.Get("Allow") != "POST" {
			t.Errorf("%s GET /logout: %d Allow %q: %s", who.name, r.Status, r.Header.Get("Allow"), firstLine(string(r.Body), "<title>"))
		}
	}
	// The API keeps its JSON answers, 404 and 405.
	r := sendRaw(t, st, c, "GET", "/api/v1/no-such-route", nil, false, nil)
	if r.Status != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/v1/no-such-route: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	r = sendRaw(t, st, c, "PATCH", "/api/v1/self", nil, false, nil)
	if r.Status != 405 || r.Header.Get("Allow") != "GET, PUT" {
		t.Errorf("PATCH /api/v1/self: %d Allow %q: %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	r = sendRaw(t, st, c, "DELETE", "/api/v1/no-such-route", nil, false, nil)
	if r.Status != 404 {
		t.Errorf("DELETE /api/v1/no-such-route: %d %s", r.Status, r.Body)
	}
}

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
