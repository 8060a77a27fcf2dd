package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"portal"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestNavShowsOrgAdminLinksOnlyToOrgSuperUsers: Administrators and
// Settings are in the left navigation for a Super User of the whole
// organization, not for a Super User of one site (who would get 403).
func TestNavShowsOrgAdminLinksOnlyToOrgSuperUsers(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	ctx := context.Background()
	owner := st.SignUp(t, "owner@example.com", "head-kettle-lamp", "Acme")
	orgID := st.Do(t, owner, "GET", "/api/v1/self", nil).JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	r := st.Do(t, owner, "POST", "/api/v1/orgs/"+orgID+"/sites", map[string]any{"name": "HQ"})
	if r.Status != 200 {
		t.Fatalf("create site: %d %s", r.Status, r.Body)
	}
	siteID := r.JSON(t)["id"].(string)

	siteAdmin := st.SignUp(t, "site-admin@example.com", "kettle lamp harbor", "")
	u, err := st.DB.GetUserByEmail(ctx, "site-admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	err = st.DB.Write(ctx, func(tx *store.Tx) error {
		return tx.CreatePrivilege(ctx, &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: orgID, SiteID: siteID,
			Scope: portal.ScopeSite, Role: portal.RoleAdmin}, st.Clock.Now().UnixMilli())
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		who   string
		links bool
		page  string
	}{{"org Super User", true, pageText(t, st, owner, "/orgs/"+orgID)}, {"site Super User", false, pageText(t, st, siteAdmin, "/orgs/"+orgID)}} {
		for _, link := range []string{"/orgs/" + orgID + "/admins", "/orgs/" + orgID + "/settings"} {
			if got := strings.Contains(c.page, `href="`+link+`"`); got != c.links {
				t.Errorf("%s: link %s shown = %v, want %v", c.who, link, got, c.links)
			}
		}
	}
}
