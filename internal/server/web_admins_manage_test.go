package server_test

import (
	"context"
	"strings"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestManageSaysLastSuperUserFirst: on the Manage page of the last Super
// User, the rule that keeps them one is said first, instead of a
// confirmation for a change that would be refused.
func TestManageSaysLastSuperUserFirst(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	c := st.SignUp(t, "ann@example.com", "correct horse 1", "Acme")
	self := st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)
	org := self["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	u, err := st.DB.GetUserByEmail(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	page := pageText(t, st, c, "/orgs/"+org+"/admins/"+u.ID)
	if !strings.Contains(page, "You are the only Super User of Acme, and an organization always keeps at least one: make someone else a Super User before you change your role or leave.") {
		t.Errorf("the Manage page of the last Super User does not say the rule:\n%s", firstLine(page, "flash"))
	}
	for _, dialog := range []string{"own-role-dialog", "revoke-dialog"} {
		if strings.Contains(page, dialog) {
			t.Errorf("the Manage page of the last Super User still asks to confirm a change that will be refused: %s", firstLine(page, dialog))
		}
	}
}
