package server_test

import (
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIFlow walks the foundation flow a script follows over the API:
// sign up, verify by mail, log in, read /self, create an organization and a
// site, log out.
func TestAPIFlow(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		c := st.SignUp(t, "ann@example.com", "correct horse", "Acme")

		r := st.Do(t, c, "GET", "/api/v1/self", nil)
		if r.Status != 200 {
			t.Fatalf("self: %d %s", r.Status, r.Body)
		}
		spec.ValidateResponse(t, "GET", "/api/v1/self", r.Status, r.Body)
		self := r.JSON(t)
		if self["email"] != "ann@example.com" || self["two_factor_required"] != false {
			t.Errorf("self = %v", self)
		}
		privs := self["privileges"].([]any)
		if len(privs) != 1 || privs[0].(map[string]any)["role"] != "admin" || privs[0].(map[string]any)["name"] != "Acme" {
			t.Fatalf("privileges = %v", privs)
		}
		orgID := privs[0].(map[string]any)["org_id"].(string)

		r = st.Do(t, c, "POST", "/api/v1/orgs/"+orgID+"/sites", map[string]any{"name": "HQ", "timezone": "Europe/Paris"})
		if r.Status != 200 {
			t.Fatalf("create site: %d %s", r.Status, r.Body)
		}
		spec.ValidateResponse(t, "POST", "/api/v1/orgs/"+orgID+"/sites", r.Status, r.Body)

		r = st.Do(t, c, "GET", "/api/v1/orgs/"+orgID+"/sites", nil)
		if r.Status != 200 || r.Header.Get("X-Page-Total") != "1" {
			t.Fatalf("list sites: %d %v %s", r.Status, r.Header, r.Body)
		}
		spec.ValidateResponse(t, "GET", "/api/v1/orgs/"+orgID+"/sites", r.Status, r.Body)

		r = st.Do(t, c, "POST", "/api/v1/logout", nil)
		if r.Status != 200 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := st.Do(t, c, "GET", "/api/v1/self", nil); r.Status != 401 {
			t.Fatalf("self after logout: %d %s", r.Status, r.Body)
		}
	})
}
