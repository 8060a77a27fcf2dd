package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBrowserSessions is the Sessions section of My Account: signed in
// from the browser and from two API clients, the user sees three sessions
// (this one marked, times in their own time zone and clock), signs one
// out with its button, then all the others, with a confirmation each time.
func TestBrowserSessions(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const email, password = "sam.jones@example.com", "sessions in a browser"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}

	// An account, signed in from a Go program (the sign-up helper) and
	// from the Mist Python SDK; its times in Tokyo on a 24-hour clock.
	goClient := st.SignUp(t, email, password, "")
	if r := st.Do(t, goClient, "PUT", "/api/v1/self", map[string]any{"first_name": "Sam", "last_name": "Jones", "hour24": true, "timezone": "Asia/Tokyo"}); r.Status != 200 {
		t.Fatalf("set preferences: %d %s", r.Status, r.Body)
	}
	sdk := st.Client()
	sdk.Transport = uaTransport{"mistapi-python/0.55.8"}
	if r := st.Do(t, sdk, "POST", "/api/v1/login", map[string]any{"email": email, "password": password}); r.Status != 200 {
		t.Fatalf("SDK login: %d %s", r.Status, r.Body)
	}
	signedIn := st.Clock.Now()

	// Log in in the browser and open My Account.
	st.Clock.Advance(3 * time.Minute)
	do(chromedp.Navigate(st.URL+"/login"), chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", "Welcome, Sam")
	do(chromedp.Navigate(st.URL + "/account#sessions"))
	browsertest.WaitText(t, ctx, "#sessions h2", "Sessions")

	// Three sessions: this one first and marked, then the others with
	// their Sign out buttons; times in Tokyo time, 24-hour clock.
	browsertest.WaitText(t, ctx, "#sessions li.current", "Chrome (headless)")
	browsertest.WaitText(t, ctx, "#sessions li.current .badge", "This session")
	browsertest.WaitText(t, ctx, "#sessions li:first-child", "This session")
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#sessions li").length`)); n != 3 {
		t.Fatalf("%d sessions listed, want 3", n)
	}
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#sessions li.current button").length`)); n != 0 {
		t.Errorf("the current session has %d Sign out buttons; want none (Log out is in the user menu)", n)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	sdkSignedIn := signedIn.In(tokyo).Format("2006-01-02 15:04:05 JST")
	browsertest.WaitText(t, ctx, "#sessions li", "mistapi 0.55.8")
	browsertest.WaitText(t, ctx, "#sessions li", "Signed in "+sdkSignedIn)
	browsertest.WaitText(t, ctx, "#sessions li", "Go HTTP client")
	browsertest.WaitText(t, ctx, "#sessions li", "Address 127.0.0.1")
	if text := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector("#sessions").innerText`)); strings.Contains(text, " AM ") || strings.Contains(text, " PM ") {
		t.Errorf("times on a 12-hour clock for a user who chose 24-hour time:\n%s", text)
	}
	browsertest.Screenshot(t, ctx, "sessions")

	// Sign out the SDK's session: a confirmation, and it is gone.
	do(chromedp.Click(css(`#sessions button[aria-label^="Sign out mistapi 0.55.8"]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Signed out the session on mistapi 0.55.8.")
	browsertest.WaitTrue(t, ctx, "two sessions left", `document.querySelectorAll("#sessions li").length === 2`)
	if text := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.querySelector("#sessions ul.sessions").innerText`)); strings.Contains(text, "mistapi") {
		t.Errorf("the signed-out session is still listed:\n%s", text)
	}
	if r := st.Do(t, sdk, "GET", "/api/v1/self", nil); r.Status != 401 {
		t.Errorf("the signed-out SDK session still works: %d", r.Status)
	}
	if r := st.Do(t, goClient, "GET", "/api/v1/self", nil); r.Status != 200 {
		t.Errorf("signing out one session ended another: %d", r.Status)
	}
	browsertest.Screenshot(t, ctx, "signed-out-one")

	// A phone-sized screen: nothing scrolls sideways.
	restore := browsertest.Phone(t, ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	if w := browsertest.Get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("at 390 px My Account scrolls sideways by %.0f px", w)
	}
	do(chromedp.ScrollIntoView(css("#sessions")))
	browsertest.Screenshot(t, ctx, "sessions-390px")
	restore()

	// Sign out all other sessions: the current password is asked for
	// again; a wrong one is refused in the section, signing out nothing.
	do(chromedp.SendKeys(css("#sessions-password"), "not my password"),
		chromedp.Click(css(`#sessions form[action="/account/sessions"] input[name=others] ~ p button`)))
	browsertest.WaitText(t, ctx, "#sessions .flash.error", "current password is not correct")
	if r := st.Do(t, goClient, "GET", "/api/v1/self", nil); r.Status != 200 {
		t.Errorf("a wrong password signed out another session: %d", r.Status)
	}
	do(chromedp.SendKeys(css("#sessions-password"), password),
		chromedp.Click(css(`#sessions form[action="/account/sessions"] input[name=others] ~ p button`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Signed out 1 other session.")
	browsertest.WaitText(t, ctx, "#sessions", "You are not signed in anywhere else.")
	browsertest.WaitTrue(t, ctx, "only this session left", `document.querySelectorAll("#sessions li").length === 1 && document.querySelector("#sessions li.current") !== null`)
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#sessions input[name=others]").length`)); n != 0 {
		t.Errorf("Sign out all other sessions is still offered with no other session")
	}
	if r := st.Do(t, goClient, "GET", "/api/v1/self", nil); r.Status != 401 {
		t.Errorf("a session signed out with all others still works: %d", r.Status)
	}
	browsertest.Screenshot(t, ctx, "signed-out-others")

	// The browser's own session still works.
	do(chromedp.Navigate(st.URL + "/account"))
	browsertest.WaitText(t, ctx, "h1", "My Account")

	// A session id that is not the user's: a message in the section, not a
	// crash, and nothing signed out.
	other := st.SignUp(t, "someone.else@example.com", "another password", "")
	r := st.Do(t, other, "GET", "/api/v1/self/sessions", nil)
	var foreign string
	if i := strings.Index(string(r.Body), `"id":"`); i >= 0 {
		foreign = string(r.Body[i+6 : i+6+36])
	}
	if foreign == "" {
		t.Fatalf("no session id for the other user: %s", r.Body)
	}
	// No other session is listed, so no Sign out button is left: post the
	// section's form by hand, as a forged or stale page would.
	js := fmt.Sprintf(`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = "/account/sessions";
		for (const [k, v] of [["csrf_token", document.querySelector("input[name=csrf_token]").value], ["session_id", %q]]) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return true })()`, foreign)
	browsertest.Get(t, ctx, chromedp.Evaluate[bool](js))
	browsertest.WaitText(t, ctx, "#sessions .flash.error", "Session not found.")
	if r := st.Do(t, other, "GET", "/api/v1/self", nil); r.Status != http.StatusOK {
		t.Errorf("the other user's session was signed out from this account: %d", r.Status)
	}
	browsertest.Screenshot(t, ctx, "foreign-session")
}
