package server_test

import (
	"io"
	"net/url"
	"strings"
	"testing"

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
