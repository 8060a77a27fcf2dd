package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"portal"
	"portal/internal/browsertest"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestDeleteAccountBrowser is procedure 8 in a real browser: User icon ▸
// Utilities ▸ Delete Account; first refused, with the way out, while the
// user is the only Super User of an organization with other members; then
// the confirmation lists what happens and the organization that goes with
// the account; with a wrong password it says so; Yes with the password
// logs out, and the login page confirms the deletion (and so does a mail).
func TestDeleteAccountBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const email, password = "dana.ross@example.com", "goodbye kettle 8"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}
	bg := context.Background()
	dana := st.SignUp(t, email, password, "Dana Solo")
	st.SignUp(t, "eve@example.com", "eve's own password", "")
	r := st.Do(t, dana, "POST", "/api/v1/orgs", map[string]any{"name": "Dana Team"})
	if r.Status != 200 {
		t.Fatalf("create Dana Team: %d %s", r.Status, r.Body)
	}
	team := r.JSON(t)["id"].(string)
	addMember(t, st, "eve@example.com", team, st.Clock.Now())

	do(chromedp.Navigate(st.URL+"/login"), chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitLocation(t, ctx, "the organization after login", func(u string) bool { return strings.Contains(u, "/orgs/") })

	// Step 1: User icon ▸ Utilities ▸ Delete Account.
	openDelete := func() {
		t.Helper()
		do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(".usermenu > ul")))
		do(chromedp.Click(css(`.usermenu a[href="/account/delete"]`)))
		browsertest.WaitText(t, ctx, "#delete-account h1", "Delete Account")
	}
	openDelete()
	// Refused: Dana is the only Super User of Dana Team, where Eve is.
	browsertest.WaitText(t, ctx, "#delete-blocked", "You are the only Super User of Dana Team, which has other members.")
	browsertest.WaitText(t, ctx, "#delete-blocked", "make another member a Super User there")
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#delete-account form").length`)); n != 0 {
		t.Errorf("the refusal shows %d forms, want none", n)
	}
	browsertest.Screenshot(t, ctx, "delete-refused")

	// The way out: Eve becomes Super User of Dana Team.
	eve, err := st.DB.GetUserByEmail(bg, "eve@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Write(bg, func(tx *store.Tx) error {
		if _, err := tx.DeleteOrgPrivileges(bg, team, eve.ID); err != nil {
			return err
		}
		return tx.CreatePrivilege(bg, &portal.Privilege{ID: uuid.NewString(), UserID: eve.ID, OrgID: team, Scope: portal.ScopeOrg, Role: portal.RoleAdmin}, st.Clock.Now().UnixMilli())
	}); err != nil {
		t.Fatal(err)
	}

	// Step 2: the confirmation says what happens, naming the organization
	// deleted with the account and the one left.
	openDelete()
	browsertest.WaitText(t, ctx, "#orgs-deleted", "Dana Solo")
	browsertest.WaitText(t, ctx, "#delete-account", "your memberships of Dana Team end")
	browsertest.WaitText(t, ctx, "#delete-account", "sessions, API tokens, subscriptions and pending links are deleted")
	browsertest.WaitText(t, ctx, "#delete-account", "stay visible to each organization for 30 days, then are purged")
	browsertest.Screenshot(t, ctx, "delete-confirm")

	// A wrong password: said, nothing deleted.
	do(chromedp.SendKeys(css("#delete-password"), "not my password"), chromedp.Click(css("#delete-yes")))
	browsertest.WaitText(t, ctx, ".flash.error", "The current password is not correct.")
	browsertest.WaitText(t, ctx, "#orgs-deleted", "Dana Solo")
	if _, err := st.DB.GetUserByEmail(bg, email); err != nil {
		t.Fatalf("the account is gone after a wrong password: %v", err)
	}

	// Step 3: Yes → logged out; the login page confirms.
	do(chromedp.SendKeys(css("#delete-password"), password), chromedp.Click(css("#delete-yes")))
	browsertest.WaitText(t, ctx, "h1", "Log in")
	browsertest.WaitText(t, ctx, ".flash.ok", "Your account is deleted. We sent a confirmation to "+email+".")
	browsertest.Screenshot(t, ctx, "deleted-login")
	if _, err := st.DB.GetUserByEmail(bg, email); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("the account after Yes: %v, want not found", err)
	}
	st.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		return smtptest.To(email)(m) && m.Subject == subjectAccountDeleted && strings.Contains(m.Text, "Dana Solo")
	}, 10*time.Second)
	// The browser's session is gone: My Account sends it to the login page.
	do(chromedp.Navigate(st.URL + "/account"))
	browsertest.WaitText(t, ctx, "h1", "Log in")
}
