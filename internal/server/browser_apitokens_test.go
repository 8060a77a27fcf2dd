package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBrowserAPITokens is My Account → API Tokens: the user creates a
// token, sees its key once with a Copy button, uses it from a script, finds
// it listed (name, created, last used) without the key, and deletes it
// after a confirmation, which stops it at once.
func TestBrowserAPITokens(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const email, password = "kim.lee@example.com", "tokens in a browser"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}
	js := func(expr string) string {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Evaluate[string](expr))
	}
	useKey := func(key string) int {
		t.Helper()
		r := sendRaw(t, st, st.Client(), "GET", "/api/v1/self", nil, false, map[string]string{"Authorization": "Token " + key})
		return r.Status
	}
	c := st.SignUp(t, email, password, "Kim's Org")
	if r := st.Do(t, c, "PUT", "/api/v1/self", map[string]any{"first_name": "Kim", "hour24": true}); r.Status != 200 {
		t.Fatalf("names: %d %s", r.Status, r.Body)
	}

	do(chromedp.Navigate(st.URL+"/login"), chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitLocation(t, ctx, "the organization after login", func(u string) bool { return strings.Contains(u, "/orgs/") })
	do(chromedp.Navigate(st.URL + "/account#apitokens"))
	browsertest.WaitText(t, ctx, "#apitokens h2", "API Tokens")
	browsertest.WaitText(t, ctx, "#apitokens", "You have no API tokens.")

	// A name of spaces only: the section says why, nothing is created.
	do(chromedp.SendKeys(css("#apitoken-name"), "   "), chromedp.Click(css(`#apitokens form.newtoken-form button`)))
	browsertest.WaitText(t, ctx, "#apitokens .flash.error", "Name is required.")

	// Create: the key is shown once, with a Copy button.
	browsertest.Get(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#apitoken-name").value = "", true`))
	do(chromedp.SendKeys(css("#apitoken-name"), "backup script"),
		chromedp.Click(css(`#apitokens form.newtoken-form button`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "API token backup script created. Copy its key now: it will not be shown again.")
	browsertest.WaitText(t, ctx, "#apitokens .newtoken label", "Key of backup script: copy it now, it will not be shown again")
	key := js(`document.querySelector("#new-token-key").value`)
	if len(key) != 43 {
		t.Fatalf("key shown = %q", key)
	}
	if focused := js(`document.activeElement.id`); focused != "new-token-key" {
		t.Errorf("focus on %q, want the key", focused)
	}
	do(chromedp.Click(css(`#apitokens button[data-copy]`)))
	browsertest.WaitTrue(t, ctx, "the Copy button answers", `document.querySelector("#new-token-copied").textContent.length > 0`)
	browsertest.Screenshot(t, ctx, "apitoken-created")

	// The key works from a script, without the browser's cookies.
	created := st.Clock.Now()
	st.Clock.Advance(2 * time.Minute)
	if s := useKey(key); s != http.StatusOK {
		t.Fatalf("the new key: %d", s)
	}

	// Listed with its dates, in the user's 24-hour clock; the key is gone
	// for good.
	do(chromedp.Navigate(st.URL + "/account#apitokens"))
	browsertest.WaitText(t, ctx, "#apitokens td.tokenname", "backup script")
	if html := js(`document.documentElement.outerHTML`); strings.Contains(html, key) {
		t.Error("the key is shown again after the page reloads")
	}
	row := js(`document.querySelector("#apitokens tbody tr").innerText`)
	for _, want := range []string{created.Format("2006-01-02 15:04"), created.Add(2 * time.Minute).Format("2006-01-02 15:04")} {
		if !strings.Contains(row, want) {
			t.Errorf("token row %q lacks %q", row, want)
		}
	}
	if strings.Contains(row, " PM") || strings.Contains(row, " AM") {
		t.Errorf("12-hour clock in %q", row)
	}

	// Narrow screen: nothing scrolls sideways.
	restore := browsertest.Phone(t, ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	if w := browsertest.Get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("at 390 px My Account scrolls sideways by %.0f px", w)
	}
	// Each date of the token table on one line.
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`Math.max(...[...document.querySelectorAll(".apitokens td.date")].map((td) => { const r = document.createRange(); r.selectNodeContents(td); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; }))`)); n != 1 {
		t.Errorf("at 390 px a date of the token table takes %d lines", n)
	}
	do(chromedp.ScrollIntoView(css("#apitokens")))
	browsertest.Screenshot(t, ctx, "apitokens-390px")
	restore()

	// Delete asks first, in the product's dialog: Cancel keeps the token.
	dialogs := browsertest.AnswerDialogs(t, ctx, false)
	do(chromedp.Click(css(`#apitokens button[aria-label="Delete API token backup script"]`)))
	browsertest.WaitTrue(t, ctx, "the confirmation", `document.getElementById("delete-token-dialog").open`)
	browsertest.WaitText(t, ctx, "#delete-token-dialog h2", "Delete API Token backup script?")
	do(chromedp.Click(css(`#delete-token-dialog button[data-close]`)))
	browsertest.WaitTrue(t, ctx, "Cancel to close the dialog", `!document.getElementById("delete-token-dialog").open`)
	if s := useKey(key); s != http.StatusOK {
		t.Fatalf("the key after a cancelled deletion: %d", s)
	}
	// Delete in the dialog deletes it, and the key stops working at once.
	do(chromedp.Click(css(`#apitokens button[aria-label="Delete API token backup script"]`)),
		chromedp.Click(css(`#delete-token-dialog button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Deleted API token backup script: it no longer works.")
	browsertest.WaitText(t, ctx, "#apitokens", "You have no API tokens.")
	select {
	case m := <-dialogs:
		t.Errorf("the browser's own dialog opened: %q", m)
	default:
	}
	if s := useKey(key); s != http.StatusUnauthorized {
		t.Errorf("the deleted key: %d", s)
	}
	browsertest.Screenshot(t, ctx, "apitoken-deleted")
}
