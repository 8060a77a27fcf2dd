package server_test

import (
	"net/url"
	"strings"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestSettingsSaysWhenPolicyIsOff: saving the password policy with "Enable
// the password policy" unticked says that none of its rules apply.
func TestSettingsSaysWhenPolicyIsOff(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	c := st.SignUp(t, "owner@example.com", "head-kettle-lamp", "Acme")
	orgID := st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	csrf := ""
	u, _ := url.Parse(st.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "csrftoken" {
			csrf = ck.Value
		}
	}
	for _, tc := range []struct {
		enabled bool
		want    string
	}{{false, "It is off: none of its rules apply"}, {true, "The password policy is saved."}} {
		form := url.Values{"csrf_token": {csrf}, "min_length": {"12"}, "requires_special_char": {"on"}, "expiry_in_days": {"0"},
			"history_count": {"0"}, "min_character_classes": {"0"}, "two_factor_grace_days": {"0"}}
		if tc.enabled {
			form.Set("enabled", "on")
		}
		res, err := c.PostForm(st.URL+"/orgs/"+orgID+"/settings", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 303 {
			t.Fatalf("save (enabled=%v): %d", tc.enabled, res.StatusCode)
		}
		page := pageText(t, st, c, "/orgs/"+orgID+"/settings")
		if !strings.Contains(page, tc.want) {
			t.Errorf("enabled=%v: the page after saving does not say %q", tc.enabled, tc.want)
		}
		if off := strings.Contains(page, "It is off"); off == tc.enabled {
			t.Errorf("enabled=%v: 'It is off' shown = %v", tc.enabled, off)
		}
	}
}
