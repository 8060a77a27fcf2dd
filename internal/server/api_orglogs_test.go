package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

// TestAuditRetentionSetting: a Super User sets how long the organization
// keeps its audit entries, over the API (org_setting's audit_retention_days,
// ours) and on Organization ▸ Settings; a value out of range is refused
// with nothing written, and the change is audited.
func TestAuditRetentionSetting(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("owner@example.com", "head-kettle-lamp", "Acme")
		org := e.firstOrg(c)
		path := "/api/v1/orgs/" + org + "/setting"
		retention := func() any {
			t.Helper()
			r := e.do(c, "GET", path, nil)
			e.want(r, 200, "GET setting")
			return r.JSON(t)["audit_retention_days"]
		}
		if got := retention(); got != 365.0 {
			t.Errorf("default retention %v, want 365", got)
		}
		e.want(e.do(c, "PUT", path, map[string]any{"audit_retention_days": 29}), 400, "29 days")
		// Nothing half-written: a bad policy with a good retention.
		e.want(e.do(c, "PUT", path, map[string]any{"audit_retention_days": 90, "password_policy": map[string]any{"min_length": 500}}), 400, "bad policy")
		e.want(e.do(c, "PUT", path, map[string]any{"audit_retention_days": 5000, "password_policy": map[string]any{"min_length": 12}}), 400, "bad retention")
		r := e.do(c, "GET", path, nil)
		if m := r.JSON(t); m["audit_retention_days"] != 365.0 || m["password_policy"].(map[string]any)["min_length"] == 12.0 {
			t.Errorf("after refusals: %s", r.Body)
		}
		r = e.do(c, "PUT", path, map[string]any{"audit_retention_days": 90})
		e.want(r, 200, "90 days")
		if got := r.JSON(t)["audit_retention_days"]; got != 90.0 {
			t.Errorf("answer after PUT: %v, want 90", got)
		}
		if msgs := strings.Join(e.orgAudit(org), "|"); !strings.Contains(msgs, "Updated audit log retention") {
			t.Errorf("audit: %s", msgs)
		}

		// Organization ▸ Settings.
		page := pageText(t, e.st, c, "/orgs/"+org+"/settings")
		if !strings.Contains(page, `id="audit_retention_days"`) || !strings.Contains(page, `value="90"`) {
			t.Errorf("the settings page does not show the retention of 90 days")
		}
		post := func(days string) (int, string) {
			t.Helper()
			res, err := c.PostForm(e.st.URL+"/orgs/"+org+"/settings/retention", url.Values{"csrf_token": {e.cookie(c, "csrftoken")}, "audit_retention_days": {days}})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if st, body := post("7"); st != 400 || !strings.Contains(body, "The retention must be between 30 and 3650 days.") {
			t.Errorf("7 days in the form: %d, want 400 saying the range", st)
		}
		if st, body := post("many"); st != 400 || !strings.Contains(body, "whole number of days") {
			t.Errorf("'many' in the form: %d", st)
		}
		if st, _ := post("120"); st != 303 {
			t.Errorf("120 days in the form: %d, want 303", st)
		}
		if !strings.Contains(pageText(t, e.st, c, "/orgs/"+org+"/settings"), "Audit logs are kept 120 days.") || retention() != 120.0 {
			t.Errorf("after saving 120 days in the form: %v", retention())
		}
	})
}

func init() {
	mistRoutes["GET /api/v1/orgs/{org_id}/logs"] = true
}

// addSitePrivilege gives the user with the address a role on one site
// (straight into the store).
func addSitePrivilege(t *testing.T, st *testenv.Stack, email, orgID, siteID, role string) {
	t.Helper()
	ctx := context.Background()
	u, err := st.DB.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	scope := portal.ScopeSite
	if siteID == "" {
		scope = portal.ScopeOrg
	}
	if err := st.DB.Write(ctx, func(tx *store.Tx) error {
		return tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: orgID, SiteID: siteID, Scope: scope, Role: role}, st.Clock.Now().UnixMilli())
	}); err != nil {
		t.Fatal(err)
	}
}

// logs reads the organization's log with the query and expects 200.
func (e *apiEnv) logs(c *http.Client, org, query string) map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/orgs/"+org+"/logs?"+query, nil)
	e.want(r, 200, "logs "+query)
	return r.JSON(e.t)
}

// logMessages are the messages of a log answer, in order.
func logMessages(m map[string]any) []string {
	var out []string
	for _, r := range m["results"].([]any) {
		out = append(out, r.(map[string]any)["message"].(string))
	}
	return out
}

// TestOrgAuditLogsAPI: GET /api/v1/orgs/{org_id}/logs in Mist's shape:
// what each role sees (all of it, the sites of the privilege, nothing),
// newest first, the filters and sorts, pages by cursor and by number, bad
// input, the API token named, and a deleted member's entries shown until
// the purge 30 days later and to nobody after it.
func TestOrgAuditLogsAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const pw = "audit log horse 5"
		owner := e.signUp("owner@example.com", pw, "Acme")
		org := e.firstOrg(owner)
		tick := func() { e.st.Clock.Advance(time.Second) }
		tick()
		hq := e.createSite(owner, org, "HQ")
		tick()
		lab := e.createSite(owner, org, "Lab")
		tick()
		e.want(e.do(owner, "PUT", "/api/v1/sites/"+hq, map[string]any{"name": "Headquarters"}), 200, "rename HQ")
		tick()
		_, key := e.tokenCreate(owner, "ci-script")
		tick()
		r := e.tok(key, "POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": "Edge"})
		e.want(r, 200, "create Edge with a token")
		tick()
		walt := e.signUp("walt@example.com", pw, "")
		addSitePrivilege(t, e.st, "walt@example.com", org, "", portal.RoleWrite)
		nora := e.signUp("nora@example.com", pw, "")
		addSitePrivilege(t, e.st, "nora@example.com", org, lab, portal.RoleWrite)
		olga := e.signUp("olga@example.com", pw, "")
		addSitePrivilege(t, e.st, "olga@example.com", org, "", portal.RoleRead)
		outsider := e.signUp("out@example.com", pw, "Elsewhere")
		dan := e.signUp("dan@example.com", pw, "")
		addSitePrivilege(t, e.st, "dan@example.com", org, "", portal.RoleWrite)
		tick()
		e.want(e.do(nora, "PUT", "/api/v1/sites/"+lab, map[string]any{"notes": "rack 4"}), 200, "nora changes Lab")
		tick()
		e.createSite(dan, org, "Dan's site")
		tick()
		e.want(e.do(dan, "DELETE", "/api/v1/self", map[string]any{"password": pw}), 200, "dan deletes his account")

		// The Super User sees everything, newest first.
		all := e.logs(owner, org, "duration=1d")
		msgs := logMessages(all)
		// The sign-up's two entries have the same time: in either order.
		want := []string{"Created site Dan's site", "Updated site Lab", "Created site Edge", "Updated site Headquarters", "Created site Lab", "Created site HQ",
			"Created organization Acme", "Signed up and verified email address"}
		sameLog := func(got []string) bool {
			if len(got) != len(want) || strings.Join(got[:6], "|") != strings.Join(want[:6], "|") {
				return false
			}
			tail := slices.Clone(got[6:])
			slices.Sort(tail)
			return strings.Join(tail, "|") == strings.Join(want[6:], "|")
		}
		if !sameLog(msgs) || all["total"] != float64(len(want)) {
			t.Fatalf("owner's log = %q (total %v), want %q", msgs, all["total"], want)
		}
		var prev float64 = 1e18
		for _, x := range all["results"].([]any) {
			en := x.(map[string]any)
			if ts := en["timestamp"].(float64); ts > prev {
				t.Errorf("not newest first: %v after %v", ts, prev)
			} else {
				prev = ts
			}
			if en["org_id"] != org {
				t.Errorf("entry of another organization: %v", en)
			}
			switch en["message"] {
			case "Created site Edge":
				if en["api_token_name"] != "ci-script" {
					t.Errorf("the change made with the token: api_token_name %v, want ci-script", en["api_token_name"])
				}
			case "Created site Dan's site":
				if en["admin_name"] != "Test User" || en["for_site"] != true {
					t.Errorf("the deleted member's entry: %v", en)
				}
			default:
				if _, named := en["api_token_name"]; named {
					t.Errorf("%q was made in a session but names a token", en["message"])
				}
			}
		}
		if f, _ := all["results"].([]any)[len(want)-1].(map[string]any); f["site_id"] != portal.NilID || f["for_site"] != nil {
			t.Errorf("an entry of the organization itself: %v, want the nil site id and no for_site", f)
		}

		// Filters and sorts.
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"site_id=" + hq, []string{"Updated site Headquarters", "Created site HQ"}},
			{"admin_name=NORA", []string{"Updated site Lab"}},
			{"admin_name=nora@example", []string{"Updated site Lab"}},
			{"admin_name=nobody", nil},
			{"message=updated+site", []string{"Updated site Lab", "Updated site Headquarters"}},
			{"message=100%25", nil},
			{"sort=timestamp&message=created", []string{"Created organization Acme", "Created site HQ", "Created site Lab", "Created site Edge", "Created site Dan's site"}},
			{"start=" + strconv.FormatInt(e.st.Clock.Now().Add(-2*time.Second).Unix(), 10), []string{"Created site Dan's site", "Updated site Lab"}},
		} {
			if got := logMessages(e.logs(owner, org, tc.query)); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s: %q, want %q", tc.query, got, tc.want)
			}
		}
		byAdmin := e.logs(owner, org, "sort=admin_id")
		if n := len(byAdmin["results"].([]any)); n != len(want) {
			t.Errorf("sort=admin_id: %d entries", n)
		}
		for _, bad := range []string{"sort=name", "site_id=HQ", "start=yesterday", "limit=0", "limit=1001", "cursor=abc", "admin_name=" + strings.Repeat("x", 257), "sort=site_id&cursor=1.2"} {
			r := e.do(owner, "GET", "/api/v1/orgs/"+org+"/logs?"+bad, nil)
			e.want(r, 400, "logs?"+bad)
		}

		// Pages: by cursor (next), then by number for another order.
		var seen []string
		next := "/api/v1/orgs/" + org + "/logs?limit=3"
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("too many pages")
			}
			r := e.do(owner, "GET", next, nil)
			e.want(r, 200, next)
			m := r.JSON(t)
			if m["total"] != float64(len(want)) || r.Header.Get("X-Page-Total") != strconv.Itoa(len(want)) {
				t.Errorf("page %s: total %v", next, m["total"])
			}
			seen = append(seen, logMessages(m)...)
			next, _ = m["next"].(string)
		}
		if !sameLog(seen) {
			t.Errorf("pages by cursor gave %q, want %q", seen, want)
		}
		p2 := e.logs(owner, org, "sort=site_id&limit=4")
		if n, _ := p2["next"].(string); !strings.Contains(n, "page=2") {
			t.Errorf("sort=site_id page 1: next %q, want page 2", n)
		}

		// Who sees what.
		if got := logMessages(e.logs(walt, org, "")); strings.Join(got, "|") != strings.Join(want[:6], "|") {
			t.Errorf("a Network Admin of the organization sees %q, want every site's entries", got)
		}
		if got := logMessages(e.logs(nora, org, "")); strings.Join(got, "|") != "Updated site Lab|Created site Lab" {
			t.Errorf("a Network Admin of Lab sees %q", got)
		}
		if got := logMessages(e.logs(nora, org, "site_id="+hq)); len(got) != 0 {
			t.Errorf("a Network Admin of Lab sees HQ's %q", got)
		}
		r = e.do(olga, "GET", "/api/v1/orgs/"+org+"/logs", nil)
		e.want(r, 403, "an Observer")
		if roles := fmt.Sprint(r.JSON(t)["required_roles"]); roles != "[admin write]" {
			t.Errorf("required_roles %s", roles)
		}
		e.want(e.do(outsider, "GET", "/api/v1/orgs/"+org+"/logs", nil), 404, "an outsider")

		// The deleted member's entries: kept 30 days, then purged for all.
		e.st.Clock.Advance(30*24*time.Hour - 2*time.Second)
		if _, err := e.st.Service.PurgeRetention(ctx); err != nil {
			t.Fatal(err)
		}
		owner, r = e.login("owner@example.com", pw) // the session has expired meanwhile
		e.want(r, 200, "owner logs in again")
		if got := logMessages(e.logs(owner, org, "duration=31d&message=dan")); len(got) != 1 {
			t.Errorf("29 days later the deleted member's entries: %q, want 1", got)
		}
		e.st.Clock.Advance(2 * time.Second)
		if _, err := e.st.Service.PurgeRetention(ctx); err != nil {
			t.Fatal(err)
		}
		if got := logMessages(e.logs(owner, org, "duration=31d&message=dan")); len(got) != 0 {
			t.Errorf("30 days later the deleted member's entries: %q, want none", got)
		}
	})
}

// getPage fetches a GUI address with the client's session: status and body.
func getPage(t *testing.T, st *testenv.Stack, c *http.Client, path string) (int, http.Header, string) {
	t.Helper()
	res, err := c.Get(st.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// TestOrgAuditLogsPage: Organization ▸ Audit Logs in the GUI: entries
// newest first with times in the viewer's preferences, the API token
// named, filters, pages of 50, the CSV download, a readable error for bad
// input, and no page for an Observer.
func TestOrgAuditLogsPage(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	const pw = "audit page horse 6"
	c := st.SignUp(t, "owner@example.com", pw, "Acme")
	if r := st.Do(t, c, "PUT", "/api/v1/self", map[string]any{"first_name": "Olive", "last_name": "Owner", "hour24": true, "timezone": "Asia/Tokyo"}); r.Status != 200 {
		t.Fatalf("preferences: %d %s", r.Status, r.Body)
	}
	org := st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	for i := range 55 {
		st.Clock.Advance(time.Second)
		if r := st.Do(t, c, "POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": fmt.Sprintf("Site %02d", i)}); r.Status != 200 {
			t.Fatalf("site %d: %d", i, r.Status)
		}
	}
	status, _, page := getPage(t, st, c, "/orgs/"+org+"/logs")
	if status != 200 {
		t.Fatalf("audit logs page: %d", status)
	}
	newest := st.Clock.Now().In(mustZone(t, "Asia/Tokyo")).Format("2006-01-02 15:04:05 MST")
	for _, want := range []string{"<h1>Audit Logs</h1>", "Showing 1–50 of 57.", "Created site Site 54", newest, "Olive Owner", `id="log-older"`, `href="/orgs/` + org + `/logs"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
	if i, j := strings.Index(page, "Created site Site 54"), strings.Index(page, "Created site Site 53"); i < 0 || j < i {
		t.Errorf("not newest first")
	}
	older := regexp.MustCompile(`href="([^"]+)" id="log-older"`).FindStringSubmatch(page)
	if len(older) < 2 || older[1] == "" {
		t.Fatalf("no address for older entries")
	}
	status, _, page = getPage(t, st, c, html.UnescapeString(older[1]))
	if status != 200 || !strings.Contains(page, "Showing 51–57 of 57.") || !strings.Contains(page, "Created site Site 00") || strings.Contains(page, "Created site Site 54") || strings.Contains(page, `id="log-older"`) {
		t.Errorf("the older page: %d", status)
	}
	_, _, page = getPage(t, st, c, "/orgs/"+org+"/logs?message=site+07")
	if !strings.Contains(page, "Showing 1–1 of 1.") || !strings.Contains(page, "Created site Site 07") {
		t.Errorf("filtered by message: the page does not show the one entry")
	}
	status, _, page = getPage(t, st, c, "/orgs/"+org+"/logs?message=%01")
	if status != 400 || !strings.Contains(page, "Message must be at most 256 characters, without control characters.") {
		t.Errorf("a bad filter: %d", status)
	}
	// The CSV download: every entry, a header, times in the preferences.
	status, hdr, body := getPage(t, st, c, "/orgs/"+org+"/logs.csv?message=created")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v", status, hdr)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+56 || rows[0][0] != "time" || rows[1][0] != newest || rows[1][4] != "Created site Site 54" || rows[1][3] != "Site 54" {
		t.Errorf("CSV: %d rows, first %q, second %q", len(rows), rows[0], rows[min(1, len(rows)-1)])
	}
	// An Observer has no audit log.
	st.SignUp(t, "olga@example.com", pw, "")
	addSitePrivilege(t, st, "olga@example.com", org, "", portal.RoleRead)
	olga := st.Client()
	if r := st.Do(t, olga, "POST", "/api/v1/login", map[string]any{"email": "olga@example.com", "password": pw}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if status, _, page := getPage(t, st, olga, "/orgs/"+org+"/logs"); status != 403 || !strings.Contains(page, "You cannot see this organization&#39;s audit logs") {
		t.Errorf("an Observer's audit logs page: %d", status)
	}
	if status, _, _ := getPage(t, st, olga, "/orgs/"+org+"/logs.csv"); status != 403 {
		t.Errorf("an Observer's CSV: %d", status)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
