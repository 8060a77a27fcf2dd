package server_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestNotificationSettingsBrowser is procedure 5 of the seed: My Account ▸
// Email Notification ▸ Enable opens "Enable Email Notifications"; a site's
// toggle (found with the search, the organization having many sites), then
// Close: the section says notifications are on for one site of the current
// organization and lists the other organization where they are on; Enable
// again, the organization's toggle: the sites read as included; Close: on
// for the whole organization. The API sees the same subscriptions.
func TestNotificationSettingsBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const email, password = "nora.field@example.com", "notifications in a browser"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}

	// Acme with twelve sites, and Zeta, whose notifications are on.
	c := st.SignUp(t, email, password, "Acme")
	if r := st.Do(t, c, "PUT", "/api/v1/self", map[string]any{"first_name": "Nora", "last_name": "Field"}); r.Status != 200 {
		t.Fatalf("name: %d %s", r.Status, r.Body)
	}
	var acme string
	self := st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)
	for _, p := range self["privileges"].([]any) {
		acme = p.(map[string]any)["org_id"].(string)
	}
	sites := map[string]string{}
	for i := range 12 {
		name := fmt.Sprintf("South %d", i)
		if i%4 == 0 {
			name = fmt.Sprintf("North %d", i)
		}
		r := st.Do(t, c, "POST", "/api/v1/orgs/"+acme+"/sites", map[string]any{"name": name})
		if r.Status != 200 {
			t.Fatalf("site: %d %s", r.Status, r.Body)
		}
		sites[name] = r.JSON(t)["id"].(string)
	}
	r := st.Do(t, c, "POST", "/api/v1/orgs", map[string]any{"name": "Zeta"})
	if r.Status != 200 {
		t.Fatalf("org: %d %s", r.Status, r.Body)
	}
	zeta := r.JSON(t)["id"].(string)
	if r := st.Do(t, c, "POST", "/api/v1/orgs/"+zeta+"/subscriptions", nil); r.Status != 200 {
		t.Fatalf("subscribe to Zeta: %d %s", r.Status, r.Body)
	}

	do(chromedp.Navigate(st.URL+"/login"), chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", "Acme") // the organization's page
	do(chromedp.Navigate(st.URL + "/account#notifications"))
	browsertest.WaitText(t, ctx, "#notifications h2", "Email Notification")
	browsertest.WaitText(t, ctx, "#notifications-state", "off for the organization Acme")
	browsertest.WaitText(t, ctx, "#notifications-others", "Zeta — all sites")

	// 1. Enable: the page.
	do(chromedp.Click(css("#enable-notifications")))
	browsertest.WaitText(t, ctx, "h1", "Enable Email Notifications")
	browsertest.WaitText(t, ctx, "#org-toggle", "Enable Org Notifications")
	browsertest.WaitTrue(t, ctx, "the org toggle is off", `document.querySelector("#org-toggle [role=switch]").getAttribute("aria-checked") === "false"`)
	browsertest.WaitTrue(t, ctx, "twelve site toggles", `document.querySelectorAll("#site-toggles [role=switch]").length === 12`)

	// 3. Search the sites, turn one on.
	do(chromedp.SendKeys(css("#site-search"), "north"), chromedp.Submit(css("#site-search")))
	browsertest.WaitTrue(t, ctx, "three sites found", `document.querySelectorAll("#site-toggles [role=switch]").length === 3`)
	north := sites["North 4"]
	do(chromedp.Click(css("#site-" + north + " button")))
	browsertest.WaitText(t, ctx, ".flash", "Notifications turned on for the site.")
	browsertest.WaitTrue(t, ctx, "North 4 on", `document.querySelector("#site-`+north+` [role=switch]").getAttribute("aria-checked") === "true"`)
	browsertest.WaitTrue(t, ctx, "the search kept", `document.querySelectorAll("#site-toggles [role=switch]").length === 3`)
	browsertest.Screenshot(t, ctx, "notifications-site")

	// 4. Close: on for one site of Acme, and on in Zeta.
	do(chromedp.Click(css("#close-notifications")))
	browsertest.WaitText(t, ctx, "#notifications-state", "on for 1 site of Acme")
	browsertest.WaitText(t, ctx, "#notifications-others", "Zeta")

	// 2. Enable again: the organization's toggle; the sites read as included.
	do(chromedp.Click(css("#enable-notifications")))
	browsertest.WaitText(t, ctx, "h1", "Enable Email Notifications")
	do(chromedp.Click(css("#org-toggle button")))
	browsertest.WaitText(t, ctx, ".flash", "Notifications turned on for the whole organization.")
	browsertest.WaitTrue(t, ctx, "the org toggle is on", `document.querySelector("#org-toggle [role=switch]").getAttribute("aria-checked") === "true"`)
	browsertest.WaitTrue(t, ctx, "every site included", `Array.from(document.querySelectorAll("#site-toggles [role=switch]")).every(b => b.getAttribute("aria-checked") === "true" && b.disabled)`)
	browsertest.WaitText(t, ctx, "#site-toggles", "Included")
	browsertest.Screenshot(t, ctx, "notifications-org")
	do(chromedp.Click(css("#close-notifications")))
	browsertest.WaitText(t, ctx, "#notifications-state", "on for the organization Acme (all its sites)")

	// The API agrees: Acme, its site North 4, and Zeta.
	var subs []map[string]any
	if err := json.Unmarshal(st.Do(t, c, "GET", "/api/v1/self/subscriptions", nil).Body, &subs); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range subs {
		got[fmt.Sprint(s["org_name"], "/", s["site_name"])] = true
	}
	for _, want := range []string{"Acme/<nil>", "Acme/North 4", "Zeta/<nil>"} {
		if !got[want] || len(got) != 3 {
			t.Errorf("subscriptions = %v, want Acme, Acme/North 4 and Zeta", subs)
			break
		}
	}
}
