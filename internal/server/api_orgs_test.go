package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIOrgs: create (the creator is Super User), read, update and delete
// an organization.
func TestAPIOrgs(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "")
		created := e.st.Clock.Now()

		r := e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "  Acme  "})
		e.want(r, 200, "create org")
		o := r.JSON(t)
		id, _ := o["id"].(string)
		if _, err := uuid.Parse(id); err != nil || o["name"] != "Acme" || o["session_expiry"] != float64(portal.DefaultSessionExpiry) ||
			o["created_time"] != float64(created.Unix()) || o["modified_time"] != float64(created.Unix()) {
			t.Fatalf("created org = %s", r.Body)
		}
		privs := e.self(c)["privileges"].([]any)
		if len(privs) != 1 {
			t.Fatalf("privileges = %v", privs)
		}
		if p := privs[0].(map[string]any); p["org_id"] != id || p["role"] != "admin" || p["scope"] != "org" || p["name"] != "Acme" || p["org_name"] != "Acme" {
			t.Errorf("creator's privilege = %v", p)
		}

		r = e.do(c, "GET", "/api/v1/orgs/"+id, nil)
		e.want(r, 200, "get org")
		if r.JSON(t)["name"] != "Acme" {
			t.Errorf("get org = %s", r.Body)
		}
		// An upper-case id names the same organization.
		e.want(e.do(c, "GET", "/api/v1/orgs/"+strings.ToUpper(id), nil), 200, "get org by upper-case id")

		e.st.Clock.Advance(time.Hour)
		r = e.do(c, "PUT", "/api/v1/orgs/"+id, map[string]any{"name": "Acme Corp", "session_expiry": 60})
		e.want(r, 200, "update org")
		o = r.JSON(t)
		if o["name"] != "Acme Corp" || o["session_expiry"] != float64(60) || o["modified_time"] != float64(e.st.Clock.Now().Unix()) || o["created_time"] != float64(created.Unix()) {
			t.Errorf("updated org = %s", r.Body)
		}
		// A PUT without a field leaves it unchanged.
		r = e.do(c, "PUT", "/api/v1/orgs/"+id, map[string]any{"session_expiry": 120})
		e.want(r, 200, "update org expiry")
		if r.JSON(t)["name"] != "Acme Corp" {
			t.Errorf("name lost by a partial update: %s", r.Body)
		}

		// Invalid changes are refused whole.
		for _, body := range []map[string]any{
			{"name": ""}, {"name": "   "}, {"name": strings.Repeat("x", portal.MaxOrgNameLen+1)}, {"name": "a\nb"},
			{"session_expiry": 9}, {"session_expiry": 20161}, {"session_expiry": -1},
			{"name": "Renamed", "session_expiry": 5},
		} {
			r := e.do(c, "PUT", "/api/v1/orgs/"+id, body)
			if r.Status != 400 {
				t.Errorf("PUT org %v: %d %s", body, r.Status, r.Body)
			}
		}
		r = e.do(c, "GET", "/api/v1/orgs/"+id, nil)
		if o := r.JSON(t); o["name"] != "Acme Corp" || o["session_expiry"] != float64(120) {
			t.Errorf("org after refused updates = %s", r.Body)
		}
		for _, body := range []map[string]any{{}, {"name": ""}, {"name": strings.Repeat("x", portal.MaxOrgNameLen+1)}, {"name": "ok", "session_expiry": 0}} {
			r := e.do(c, "POST", "/api/v1/orgs", body)
			if r.Status != 400 {
				t.Errorf("POST org %v: %d %s", body, r.Status, r.Body)
			}
		}
		if n := len(e.orgIDs(c)); n != 1 {
			t.Errorf("%d organizations after refused creations, want 1", n)
		}
		r = e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": strings.Repeat("ü", portal.MaxOrgNameLen), "session_expiry": 10})
		e.want(r, 200, "org name at the limit")
		second := r.JSON(t)["id"].(string)

		e.want(e.do(c, "DELETE", "/api/v1/orgs/"+id, nil), 200, "delete org")
		e.want(e.do(c, "GET", "/api/v1/orgs/"+id, nil), 404, "deleted org")
		e.want(e.do(c, "PUT", "/api/v1/orgs/"+id, map[string]any{"name": "Back"}), 404, "update deleted org")
		e.want(e.do(c, "DELETE", "/api/v1/orgs/"+id, nil), 404, "delete twice")
		if ids := e.orgIDs(c); len(ids) != 1 || ids[0] != second {
			t.Errorf("organizations after delete: %v", ids)
		}
	})
}

// TestAPISites: sites CRUD, validation and pagination.
func TestAPISites(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		sites := "/api/v1/orgs/" + org + "/sites"

		r := e.do(c, "POST", sites, map[string]any{"name": "HQ", "timezone": "Europe/Paris", "country_code": "fr", "address": "1 rue de la Paix", "notes": "main office"})
		e.want(r, 200, "create site")
		s := r.JSON(t)
		id := s["id"].(string)
		if s["org_id"] != org || s["name"] != "HQ" || s["timezone"] != "Europe/Paris" || s["country_code"] != "FR" || s["address"] != "1 rue de la Paix" || s["notes"] != "main office" {
			t.Errorf("created site = %s", r.Body)
		}
		r = e.do(c, "GET", "/api/v1/sites/"+id, nil)
		e.want(r, 200, "get site")
		if r.JSON(t)["name"] != "HQ" {
			t.Errorf("get site = %s", r.Body)
		}
		r = e.do(c, "PUT", "/api/v1/sites/"+id, map[string]any{"name": "Head office", "notes": ""})
		e.want(r, 200, "update site")
		if s := r.JSON(t); s["name"] != "Head office" || s["notes"] != "" || s["timezone"] != "Europe/Paris" {
			t.Errorf("updated site = %s", r.Body)
		}

		// Invalid sites are refused and nothing is written.
		invalid := []map[string]any{
			{"name": ""}, {"name": "   "}, {"name": strings.Repeat("s", portal.MaxSiteNameLen+1)}, {"name": "x\u0007"},
			{"name": "Changed", "timezone": "Mars/Olympus"}, {"name": "Changed", "timezone": "Local"}, {"name": "Changed", "timezone": "../../etc/passwd"},
			{"name": "Changed", "country_code": "USA"}, {"name": "Changed", "country_code": "1A"},
			{"name": "Changed", "notes": strings.Repeat("n", portal.MaxNotesLen+1)}, {"name": "Changed", "address": strings.Repeat("a", 257)},
		}
		for _, body := range append(invalid, map[string]any{}, map[string]any{"timezone": "UTC"}) {
			if r := e.do(c, "POST", sites, body); r.Status != 400 {
				t.Errorf("POST site %v: %d %s", body, r.Status, r.Body)
			}
		}
		for _, body := range invalid {
			if r := e.do(c, "PUT", "/api/v1/sites/"+id, body); r.Status != 400 {
				t.Errorf("PUT site %v: %d %s", body, r.Status, r.Body)
			}
		}
		r = e.do(c, "GET", sites, nil)
		if l := e.list(r); len(l) != 1 || l[0]["name"] != "Head office" || l[0]["timezone"] != "Europe/Paris" || l[0]["country_code"] != "FR" {
			t.Errorf("sites after refused changes: %s", r.Body)
		}

		e.want(e.do(c, "DELETE", "/api/v1/sites/"+id, nil), 200, "delete site")
		e.want(e.do(c, "GET", "/api/v1/sites/"+id, nil), 404, "deleted site")
		e.want(e.do(c, "PUT", "/api/v1/sites/"+id, map[string]any{"name": "Back"}), 404, "update deleted site")
		e.want(e.do(c, "DELETE", "/api/v1/sites/"+id, nil), 404, "delete twice")

		// Pagination.
		var ids []string
		for i := range 5 {
			ids = append(ids, e.createSite(c, org, fmt.Sprintf("Site %d", i)))
		}
		r = e.do(c, "GET", sites, nil)
		checkPage(t, r, 5, 100, 1)
		if len(e.list(r)) != 5 {
			t.Errorf("default page: %s", r.Body)
		}
		var seen []string
		for page, n := range []int{2, 2, 1, 0} {
			r := e.do(c, "GET", sites+"?limit=2&page="+strconv.Itoa(page+1), nil)
			e.want(r, 200, "page")
			checkPage(t, r, 5, 2, page+1)
			l := e.list(r)
			if len(l) != n {
				t.Errorf("page %d: %d sites, want %d", page+1, len(l), n)
			}
			for _, s := range l {
				seen = append(seen, s["id"].(string))
			}
		}
		slices.Sort(seen)
		slices.Sort(ids)
		if !slices.Equal(seen, ids) {
			t.Errorf("pages hold %v, want %v", seen, ids)
		}
		checkPage(t, e.do(c, "GET", sites+"?limit=1000&page=1", nil), 5, 1000, 1)

		for _, q := range []string{"limit=0", "limit=abc", "limit=5000", "limit=1001", "limit=-1", "limit=1.5", "limit=99999999999999999999",
			"page=-1", "page=0", "page=abc", "page=1e3", "page=99999999999", "limit=2&page=-1"} {
			r := e.do(c, "GET", sites+"?"+q, nil)
			if r.Status != 400 {
				t.Errorf("list sites ?%s: %d %s", q, r.Status, r.Body)
			} else if dt := e.detail(r); !strings.Contains(dt, "limit") && !strings.Contains(dt, "page") {
				t.Errorf("list sites ?%s: detail %q names neither limit nor page", q, dt)
			}
		}
	})
}

// checkPage checks the Mist pagination headers.
func checkPage(t *testing.T, r testenv.Response, total, limit, page int) {
	t.Helper()
	got := []string{r.Header.Get("X-Page-Total"), r.Header.Get("X-Page-Limit"), r.Header.Get("X-Page-Page")}
	want := []string{strconv.Itoa(total), strconv.Itoa(limit), strconv.Itoa(page)}
	if !slices.Equal(got, want) {
		t.Errorf("X-Page-Total/Limit/Page = %v, want %v", got, want)
	}
}

// TestAPIOrgIsolation: a user of another organization cannot see or change
// an organization or its sites: everything answers 404, as for an id that
// does not exist.
func TestAPIOrgIsolation(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", "correct horse 1", "Acme Secret")
		org := e.firstOrg(ann)
		site := e.createSite(ann, org, "Hidden HQ")
		bob := e.signUp("bob@example.com", "bobs garden kettle", "Bobco")
		bobOrg := e.firstOrg(bob)
		bobSite := e.createSite(bob, bobOrg, "Bob site")

		missingOrg, missingSite := uuid.NewString(), uuid.NewString()
		type call struct{ method, path, body string }
		calls := func(org, site string) []call {
			return []call{
				{"GET", "/api/v1/orgs/" + org, ""},
				{"PUT", "/api/v1/orgs/" + org, `{"name":"Pwned"}`},
				{"DELETE", "/api/v1/orgs/" + org, ""},
				{"GET", "/api/v1/orgs/" + org + "/sites", ""},
				{"POST", "/api/v1/orgs/" + org + "/sites", `{"name":"Pwned"}`},
				{"GET", "/api/v1/sites/" + site, ""},
				{"PUT", "/api/v1/sites/" + site, `{"name":"Pwned"}`},
				{"DELETE", "/api/v1/sites/" + site, ""},
			}
		}
		missing := calls(missingOrg, missingSite)
		for i, cl := range calls(org, site) {
			r := e.do(bob, cl.method, cl.path, cl.body)
			if r.Status != 404 {
				t.Errorf("bob %s %s: %d %s", cl.method, cl.path, r.Status, r.Body)
				continue
			}
			if strings.Contains(string(r.Body), "Acme") || strings.Contains(string(r.Body), "Hidden") {
				t.Errorf("bob %s %s leaks data: %s", cl.method, cl.path, r.Body)
			}
			// The same answer as for ids that do not exist.
			m := missing[i]
			if rm := e.do(bob, m.method, m.path, m.body); rm.Status != r.Status || string(rm.Body) != string(r.Body) {
				t.Errorf("%s %s: foreign %d %s, missing %d %s", cl.method, cl.path, r.Status, r.Body, rm.Status, rm.Body)
			}
		}
		// Ann cannot touch Bob's either.
		for _, cl := range calls(bobOrg, bobSite) {
			if r := e.do(ann, cl.method, cl.path, cl.body); r.Status != 404 {
				t.Errorf("ann %s %s: %d %s", cl.method, cl.path, r.Status, r.Body)
			}
		}

		// Bob sees none of Ann's data anywhere.
		for _, path := range []string{"/api/v1/self", "/api/v1/self/logs", "/api/v1/orgs/" + bobOrg + "/sites", "/api/v1/orgs/" + bobOrg} {
			r := e.do(bob, "GET", path, nil)
			e.want(r, 200, "bob GET "+path)
			if b := string(r.Body); strings.Contains(b, org) || strings.Contains(b, site) || strings.Contains(b, "Acme") || strings.Contains(b, "Hidden") || strings.Contains(b, "ann@") {
				t.Errorf("bob GET %s shows Ann's data: %s", path, b)
			}
		}
		// Nothing of Ann's changed, nor of Bob's.
		e.wantOrg(ann, org, "Acme Secret", "Hidden HQ")
		e.wantOrg(bob, bobOrg, "Bobco", "Bob site")
	})
}

// grant gives a user a privilege directly in the database.
func (e *apiEnv) grant(userID, orgID, siteID, role string) {
	e.t.Helper()
	p := &portal.Privilege{ID: uuid.NewString(), UserID: userID, OrgID: orgID, SiteID: siteID, Scope: portal.ScopeOrg, Role: role}
	if siteID != "" {
		p.Scope = portal.ScopeSite
	}
	err := e.st.DB.Write(context.Background(), func(tx *store.Tx) error {
		return tx.CreatePrivilege(context.Background(), p, e.st.Clock.Now().UnixMilli())
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestAPIRoles: an Observer (read) reads but cannot change the organization
// or its sites; a site-scoped user sees only their site; deleting the
// organization removes its sites and everyone's access.
func TestAPIRoles(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(ann)
		hq := e.createSite(ann, org, "HQ")
		branch := e.createSite(ann, org, "Branch")

		carol := e.signUp("carol@example.com", "garden kettle lamp 3", "")
		e.grant(e.self(carol)["admin_id"].(string), org, "", portal.RoleRead)
		privs := e.self(carol)["privileges"].([]any)
		if len(privs) != 1 || privs[0].(map[string]any)["role"] != "read" || privs[0].(map[string]any)["org_id"] != org {
			t.Fatalf("carol's privileges = %v", privs)
		}

		e.want(e.do(carol, "GET", "/api/v1/orgs/"+org, nil), 200, "observer reads org")
		r := e.do(carol, "GET", "/api/v1/orgs/"+org+"/sites", nil)
		e.want(r, 200, "observer lists sites")
		if n := len(e.list(r)); n != 2 {
			t.Errorf("observer sees %d sites, want 2", n)
		}
		e.want(e.do(carol, "GET", "/api/v1/sites/"+hq, nil), 200, "observer reads site")
		for _, cl := range []struct{ method, path, body string }{
			{"PUT", "/api/v1/orgs/" + org, `{"name":"Carol's"}`},
			{"DELETE", "/api/v1/orgs/" + org, ""},
			{"POST", "/api/v1/orgs/" + org + "/sites", `{"name":"Carol's"}`},
			{"PUT", "/api/v1/sites/" + hq, `{"name":"Carol's"}`},
			{"DELETE", "/api/v1/sites/" + hq, ""},
			// Refused as forbidden before the body is even looked at.
			{"PUT", "/api/v1/orgs/" + org, `{"name":""}`},
			{"POST", "/api/v1/orgs/" + org + "/sites", `{}`},
		} {
			r := e.do(carol, cl.method, cl.path, cl.body)
			if r.Status != 403 || !strings.Contains(e.detail(r), "Super User") {
				t.Errorf("observer %s %s: %d %s", cl.method, cl.path, r.Status, r.Body)
			}
		}
		r = e.do(ann, "GET", "/api/v1/orgs/"+org+"/sites", nil)
		if l := e.list(r); len(l) != 2 || e.do(ann, "GET", "/api/v1/orgs/"+org, nil).JSON(t)["name"] != "Acme" {
			t.Errorf("observer changed something: %s", r.Body)
		}

		// A site-scoped Helpdesk sees the organization and their site only.
		dave := e.signUp("dave@example.com", "fourth kettle lamp", "")
		e.grant(e.self(dave)["admin_id"].(string), org, branch, portal.RoleHelpdesk)
		r = e.do(dave, "GET", "/api/v1/orgs/"+org+"/sites", nil)
		e.want(r, 200, "helpdesk lists sites")
		if l := e.list(r); len(l) != 1 || l[0]["id"] != branch {
			t.Errorf("helpdesk sees %s, want only Branch", r.Body)
		}
		checkPage(t, r, 1, 100, 1)
		e.want(e.do(dave, "GET", "/api/v1/sites/"+branch, nil), 200, "helpdesk reads own site")
		e.want(e.do(dave, "GET", "/api/v1/sites/"+hq, nil), 404, "helpdesk reads another site")
		e.want(e.do(dave, "PUT", "/api/v1/sites/"+hq, map[string]any{"name": "x"}), 404, "helpdesk changes another site")
		e.want(e.do(dave, "PUT", "/api/v1/sites/"+branch, map[string]any{"name": "x"}), 403, "helpdesk changes own site")

		// Deleting the organization deletes its sites.
		e.want(e.do(ann, "DELETE", "/api/v1/orgs/"+org, nil), 200, "delete org")
		for _, c := range []*http.Client{ann, carol, dave} {
			e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 404, "deleted org")
			e.want(e.do(c, "GET", "/api/v1/orgs/"+org+"/sites", nil), 404, "deleted org's sites")
			e.want(e.do(c, "GET", "/api/v1/sites/"+hq, nil), 404, "site of a deleted org")
			e.want(e.do(c, "GET", "/api/v1/sites/"+branch, nil), 404, "site of a deleted org")
			if ids := e.orgIDs(c); len(ids) != 0 {
				t.Errorf("privileges left after the org was deleted: %v", ids)
			}
		}
	})
}

// TestAPIMalformedIDs: ids that are not UUIDs are not found.
func TestAPIMalformedIDs(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		site := e.createSite(c, org, "HQ")
		bad := []string{
			"not-a-uuid", "1234", "0", strings.ReplaceAll(org, "-", ""), url.PathEscape("{" + org + "}"), "urn:uuid:" + org,
			org + "0", org[:35], strings.Repeat("9", 300), "%00", url.PathEscape("'; DROP TABLE orgs; --"), url.PathEscape(org + " "),
			portal.NilID,
		}
		for _, id := range bad {
			for _, cl := range []struct{ method, path, body string }{
				{"GET", "/api/v1/orgs/" + id, ""},
				{"PUT", "/api/v1/orgs/" + id, `{"name":"x"}`},
				{"DELETE", "/api/v1/orgs/" + id, ""},
				{"GET", "/api/v1/orgs/" + id + "/sites", ""},
				{"POST", "/api/v1/orgs/" + id + "/sites", `{"name":"x"}`},
				{"GET", "/api/v1/sites/" + id, ""},
				{"PUT", "/api/v1/sites/" + id, `{"name":"x"}`},
				{"DELETE", "/api/v1/sites/" + id, ""},
			} {
				if r := e.do(c, cl.method, cl.path, cl.body); r.Status != 404 {
					t.Errorf("%s %s: %d %s", cl.method, cl.path, r.Status, r.Body)
				}
			}
		}
		// A site id is not an organization id and the other way round.
		e.want(e.do(c, "GET", "/api/v1/orgs/"+site, nil), 404, "site id as org id")
		e.want(e.do(c, "GET", "/api/v1/sites/"+org, nil), 404, "org id as site id")
		// Everything is still there.
		e.want(e.do(c, "GET", "/api/v1/orgs/"+org, nil), 200, "org")
		e.want(e.do(c, "GET", "/api/v1/sites/"+site, nil), 200, "site")
	})
}

// TestAPIAuditLog: every state change writes an entry in the Mist shape,
// visible in /self/logs, without secrets; pagination and time filters.
func TestAPIAuditLog(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const email, password = "ann@example.com", "Sup3r$ecret-pw!"
		t0 := e.st.Clock.Now()
		anon := e.st.Client()
		e.want(e.register(anon, email, password, map[string]any{"org_name": "Acme"}), 200, "register")
		token := e.verifyToken(email, 1)
		e.want(e.do(anon, "POST", "/api/v1/register/verify/"+token, nil), 200, "verify")
		c, r := e.login(email, password)
		e.want(r, 200, "login")
		_, r = e.login(email, "wrong password") // a failure changes nothing to audit
		e.want(r, 400, "wrong password")
		self := e.self(c)
		adminID := self["admin_id"].(string)
		org := e.firstOrg(c)

		e.st.Clock.Advance(2 * time.Hour)
		t1 := e.st.Clock.Now()
		site := e.createSite(c, org, "HQ")
		e.want(e.do(c, "PUT", "/api/v1/sites/"+site, map[string]any{"name": "HQ2", "timezone": "UTC"}), 200, "update site")

		e.st.Clock.Advance(2 * time.Hour)
		t2 := e.st.Clock.Now()
		e.want(e.do(c, "PUT", "/api/v1/orgs/"+org, map[string]any{"name": "Acme Corp", "session_expiry": 600}), 200, "update org")
		e.want(e.do(c, "DELETE", "/api/v1/sites/"+site, nil), 200, "delete site")
		e.want(e.do(c, "POST", "/api/v1/orgs", map[string]any{"name": "Doomed"}), 200, "create org")
		var doomed string
		for _, id := range e.orgIDs(c) {
			if id != org {
				doomed = id
			}
		}
		e.want(e.do(c, "DELETE", "/api/v1/orgs/"+doomed, nil), 200, "delete org")
		secrets := []string{password, "$argon2id", "argon2", token, e.cookie(c, "sessionid"), e.cookie(c, "csrftoken")}
		e.want(e.do(c, "POST", "/api/v1/logout", nil), 200, "logout")
		c, r = e.login(email, password)
		e.want(r, 200, "login again")
		secrets = append(secrets, e.cookie(c, "sessionid"), e.cookie(c, "csrftoken"))

		r = e.do(c, "GET", "/api/v1/self/logs", nil)
		e.want(r, 200, "logs")
		for _, s := range secrets {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("audit log holds a secret %q: %s", s, r.Body)
			}
		}
		page := r.JSON(t)
		results := page["results"].([]any)
		checkPage(t, r, len(results), 100, 1)
		if page["total"] != float64(len(results)) || page["limit"] != float64(100) || page["page"] != float64(1) {
			t.Errorf("log page = %v %v %v", page["total"], page["limit"], page["page"])
		}
		type entry = map[string]any
		byMessage := map[string]entry{}
		var messages []string
		prev := float64(1 << 62)
		for _, x := range results {
			en := x.(entry)
			spec.ValidateSchema(t, "audit_log", mustJSON(t, en))
			msg := en["message"].(string)
			messages = append(messages, msg)
			byMessage[msg] = en
			if en["admin_id"] != adminID || en["admin_name"] != "Test User" || en["src_ip"] != "127.0.0.1" {
				t.Errorf("entry %q: %v", msg, en)
			}
			ts := en["timestamp"].(float64)
			if ts > prev {
				t.Errorf("entries not newest first: %v", messages)
			}
			prev = ts
			if ts < float64(t0.Unix()) || ts > float64(e.st.Clock.Now().Unix()+1) {
				t.Errorf("entry %q at %v, outside the test's clock", msg, ts)
			}
		}
		want := map[string]struct {
			org, site     string
			before, after bool
		}{
			"Signed up and verified email address": {org, portal.NilID, false, true},
			"Created organization Acme":            {org, portal.NilID, false, true},
			"Logged in":                            {portal.NilID, portal.NilID, false, false},
			"Created site HQ":                      {org, site, false, true},
			"Updated site HQ2":                     {org, site, true, true},
			"Updated organization Acme Corp":       {org, portal.NilID, true, true},
			"Deleted site HQ2":                     {org, site, true, false},
			"Created organization Doomed":          {doomed, portal.NilID, false, true},
			"Deleted organization Doomed":          {doomed, portal.NilID, true, false},
			"Logged out":                           {portal.NilID, portal.NilID, false, false},
		}
		for msg, w := range want {
			en, ok := byMessage[msg]
			if !ok {
				t.Errorf("no audit entry %q; have %q", msg, messages)
				continue
			}
			_, hasBefore := en["before"]
			_, hasAfter := en["after"]
			if en["org_id"] != w.org || en["site_id"] != w.site || hasBefore != w.before || hasAfter != w.after {
				t.Errorf("entry %q = %v", msg, en)
			}
		}
		if n := strings.Count(strings.Join(messages, "\n"), "Logged in"); n != 2 {
			t.Errorf("%d login entries, want 2: %q", n, messages)
		}
		if en := byMessage["Updated organization Acme Corp"]; en != nil {
			before, after := en["before"].(map[string]any), en["after"].(map[string]any)
			if before["name"] != "Acme" || after["name"] != "Acme Corp" || before["session_expiry"] != float64(1440) || after["session_expiry"] != float64(600) {
				t.Errorf("org update before %v after %v", before, after)
			}
		}
		if en := byMessage["Updated site HQ2"]; en != nil {
			before, after := en["before"].(map[string]any), en["after"].(map[string]any)
			if before["name"] != "HQ" || after["name"] != "HQ2" || before["timezone"] != "" || after["timezone"] != "UTC" {
				t.Errorf("site update before %v after %v", before, after)
			}
		}

		// Pagination covers every entry exactly once.
		total := len(results)
		var paged []string
		for p := 1; p <= (total+2)/3+1; p++ {
			r := e.do(c, "GET", "/api/v1/self/logs?limit=3&page="+strconv.Itoa(p), nil)
			e.want(r, 200, "logs page")
			checkPage(t, r, total, 3, p)
			m := r.JSON(t)
			if m["limit"] != float64(3) || m["page"] != float64(p) || m["total"] != float64(total) {
				t.Errorf("page %d: limit %v page %v total %v", p, m["limit"], m["page"], m["total"])
			}
			for _, x := range m["results"].([]any) {
				paged = append(paged, x.(map[string]any)["id"].(string))
			}
		}
		if len(paged) != total || len(slices.Compact(slices.Sorted(slices.Values(paged)))) != total {
			t.Errorf("pages hold %d entries (%d distinct), want %d", len(paged), len(slices.Compact(slices.Sorted(slices.Values(paged)))), total)
		}

		// Time filters: [start, end), duration back from end or forward from start.
		count := func(q string) (int, map[string]any) {
			t.Helper()
			r := e.do(c, "GET", "/api/v1/self/logs?"+q, nil)
			e.want(r, 200, "logs ?"+q)
			m := r.JSON(t)
			return len(m["results"].([]any)), m
		}
		sec := func(tm time.Time) string { return strconv.FormatInt(tm.Unix(), 10) }
		if n, m := count("start=" + sec(t1) + "&end=" + sec(t2)); n != 2 || m["start"] != float64(t1.Unix()) || m["end"] != float64(t2.Unix()) {
			t.Errorf("[t1, t2): %d entries (want 2: site created and updated), start %v end %v", n, m["start"], m["end"])
		}
		if total != 11 {
			t.Errorf("%d entries, want 11: %q", total, messages)
		}
		if n, _ := count("duration=1h"); n != 6 {
			t.Errorf("last hour: %d entries, want 6", n)
		}
		if n, _ := count("start=" + sec(t1) + "&duration=1h"); n != 2 {
			t.Errorf("an hour from t1: %d entries, want 2", n)
		}
		if n, _ := count("end=" + sec(t1) + "&duration=1h"); n != 0 {
			t.Errorf("the hour before t1: %d entries, want 0", n)
		}
		if n, _ := count("end=" + sec(t1)); n != 3 {
			t.Errorf("the day before t1: %d entries, want 3", n)
		}
		if n, _ := count("start=" + sec(t0.Add(-time.Hour)) + "&end=" + sec(t2.Add(time.Minute))); n != total {
			t.Errorf("whole test: %d entries, want %d", n, total)
		}
		e.st.Clock.Advance(25 * time.Hour)
		e.want(e.do(c, "GET", "/api/v1/self/logs", nil), 401, "logs after the session expired")
		c, r = e.login(email, password)
		e.want(r, 200, "login after a day")
		if n, _ := count(""); n != 1 {
			t.Errorf("default window (1d) after 25h: %d entries, want 1 (the login)", n)
		}

		for _, q := range []string{"duration=abc", "duration=0d", "duration=1y", "duration=-1d", "duration=+1d", "duration=99999d", "duration=1",
			"start=" + sec(t2) + "&end=" + sec(t1), "start=" + sec(t1) + "&end=" + sec(t1), "start=abc", "start=-1", "end=x", "end=-5",
			"limit=0", "limit=abc", "limit=5000", "page=-1", "page=0"} {
			r := e.do(c, "GET", "/api/v1/self/logs?"+q, nil)
			if r.Status != 400 {
				t.Errorf("logs ?%s: %d %s", q, r.Status, r.Body)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
