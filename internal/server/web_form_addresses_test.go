package server_test

import (
	"net/http"
	"strings"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestGUINoDeadEnds: the addresses of forms, opened by a reload after a
// failed form, lead to the page of the form; unknown GUI paths get the
// error page (the API keeps its JSON); /favicon.ico leads to the icon.
func TestGUINoDeadEnds(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	c := st.SignUp(t, "owner@example.com", "head-kettle-lamp", "Acme")
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
	if r.Status != 405 || r.Header.Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("PATCH /api/v1/self: %d Allow %q: %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	r = sendRaw(t, st, c, "DELETE", "/api/v1/no-such-route", nil, false, nil)
	if r.Status != 404 {
		t.Errorf("DELETE /api/v1/no-such-route: %d %s", r.Status, r.Body)
	}
}
