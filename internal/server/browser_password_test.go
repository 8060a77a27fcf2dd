package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBrowserPassword is procedure 2 step by step: the Super User sets the
// organization's password policy on Organization ▸ Settings (12 characters,
// a special character), then changes their password in My Account ▸
// Password: a weak one is refused with every broken rule named, a good one
// is saved. Then they forget it and recover it from the login page through
// the mailed link.
func TestBrowserPassword(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const (
		email    = "ann.lee@example.com"
		password = "first password 1"
		strong   = "Correct-Horse-Battery-9"
		orgName  = "Acme Networks"
	)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}
	value := func(sel string) string {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Value(css(sel)))
	}
	eval := func(js string) string {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Evaluate[string](js))
	}
	ruleState := func(rule string) string {
		t.Helper()
		return eval(`(document.querySelector('.pwrules li[data-rule="` + rule + `"]') || {dataset: {state: "missing"}}).dataset.state || ""`)
	}
	api := st.SignUp(t, email, password, orgName) // another session, from a script
	if r := st.Do(t, api, "PUT", "/api/v1/self", map[string]any{"first_name": "Ann", "last_name": "Lee"}); r.Status != 200 {
		t.Fatalf("name: %d %s", r.Status, r.Body)
	}

	// Log in; Organization ▸ Settings in the left navigation.
	do(chromedp.Navigate(st.URL+"/login"), chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", orgName)
	do(chromedp.Click(css(`.sidenav a[href$="/settings"]`)))
	browsertest.WaitText(t, ctx, "h1", "Settings")
	browsertest.WaitText(t, ctx, ".sidenav a[aria-current]", "Settings")
	browsertest.WaitText(t, ctx, "#policy-title", "Password Policy")
	if got := value("#min_length"); got != "8" {
		t.Errorf("default minimum length %q, want 8", got)
	}

	// A value out of range (past the browser's own check) is refused
	// with the reason, and what was typed stays.
	do(chromedp.Click(css("#block_common")), chromedp.Clear(css("#history_count")), chromedp.SendKeys(css("#history_count"), "30"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("form.policy").noValidate = true`),
		chromedp.Click(css(`form.policy button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.error", "Password history must be between 0 and 24 (got 30).")
	if got := value("#history_count"); got != "30" {
		t.Errorf("after the error the history field = %q, want 30 kept", got)
	}
	if !browsertest.Get(t, ctx, chromedp.Evaluate[bool](`document.querySelector("#block_common").checked`)) {
		t.Error("after the error the common-password box lost its tick")
	}
	browsertest.Screenshot(t, ctx, "settings-error")
	do(chromedp.Click(css("#block_common")), chromedp.Clear(css("#history_count")), chromedp.SendKeys(css("#history_count"), "0"))

	// Enable the policy: at least 12 characters, a special character.
	do(chromedp.Click(css("#enabled")), chromedp.Clear(css("#min_length")), chromedp.SendKeys(css("#min_length"), "12"),
		chromedp.Click(css("#requires_special_char")))
	browsertest.Screenshot(t, ctx, "settings-filled")
	do(chromedp.Click(css(`form.policy button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "The password policy is saved.")
	if got := value("#min_length"); got != "12" {
		t.Errorf("after saving, minimum length %q, want 12", got)
	}
	for _, box := range []string{"#enabled", "#requires_special_char"} {
		if !browsertest.Get(t, ctx, chromedp.Evaluate[bool](`document.querySelector("`+box+`").checked`)) {
			t.Errorf("%s not ticked after saving", box)
		}
	}
	browsertest.Screenshot(t, ctx, "settings-saved")

	// My Account ▸ Password: the rules, and who imposes them.
	do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(".usermenu > ul")),
		chromedp.Click(css(`.usermenu a[href="/account"]`)))
	browsertest.WaitText(t, ctx, "h1", "My Account")
	browsertest.WaitText(t, ctx, "#password h2", "Password")
	browsertest.WaitText(t, ctx, `#password li[data-rule="min_length"]`, "at least 12 characters — required by "+orgName)
	browsertest.WaitText(t, ctx, `#password li[data-rule="requires_special_char"]`, "a special character (neither a letter nor a digit) — required by "+orgName)
	browsertest.WaitText(t, ctx, `#password li[data-rule="max_length"]`, "at most 32 characters")
	browsertest.WaitText(t, ctx, `#password li[data-rule="block_common"]`, "not a common or easily guessed password")
	browsertest.Screenshot(t, ctx, "password-section")

	// A weak password: the rules turn red as it is typed…
	do(chromedp.SendKeys(css("#current_password"), password),
		chromedp.SendKeys(css("#new_password"), "weakpass"),
		chromedp.SendKeys(css("#new_password_confirm"), "weakpass"))
	browsertest.WaitTrue(t, ctx, "the length rule marked broken", `document.querySelector('.pwrules li[data-rule="min_length"]').dataset.state === "bad"`)
	for rule, want := range map[string]string{"min_length": "bad", "requires_special_char": "bad", "max_length": "ok", "confirm": "ok"} {
		if got := ruleState(rule); got != want {
			t.Errorf("while typing a weak password, rule %s is %q, want %q", rule, got, want)
		}
	}
	browsertest.Screenshot(t, ctx, "password-weak-typed")
	// … and Save is refused with every broken rule named; of what was
	// typed, only the current password is kept (it was right: the service
	// checks it before the new one).
	do(chromedp.Click(css(`form[action="/account/password"] button[type=submit]`)))
	browsertest.WaitText(t, ctx, "#password .flash.error", "Password policy not met: at least 12 characters (required by "+orgName+
		"); a special character (neither a letter nor a digit) (required by "+orgName+
		"); not a common or easily guessed password (it is a common word with a common password added).")
	for _, f := range []string{"#new_password", "#new_password_confirm"} {
		if got := value(f); got != "" {
			t.Errorf("after a refused password %s still holds %q", f, got)
		}
	}
	if got := value("#current_password"); got != password {
		t.Errorf("after a refused new password the right current password is not kept: %q", got)
	}
	if got := value("#first_name"); got != "Ann" {
		t.Errorf("the other sections lost their values: first name %q", got)
	}
	browsertest.Screenshot(t, ctx, "password-refused")

	// A good one: every rule ticked; Save; confirmation.
	do(chromedp.SendKeys(css("#new_password"), strong),
		chromedp.SendKeys(css("#new_password_confirm"), strong))
	browsertest.WaitTrue(t, ctx, "the length rule ticked", `document.querySelector('.pwrules li[data-rule="min_length"]').dataset.state === "ok"`)
	for _, rule := range []string{"min_length", "max_length", "requires_special_char", "confirm"} {
		if got := ruleState(rule); got != "ok" {
			t.Errorf("with a good password, rule %s is %q", rule, got)
		}
	}
	browsertest.Screenshot(t, ctx, "password-good-typed")
	do(chromedp.Click(css(`form[action="/account/password"] button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Your password has been changed. Your other sessions were signed out.")
	browsertest.WaitLocation(t, ctx, "My Account at the Password section", func(u string) bool { return strings.HasSuffix(u, "/account#password") })
	browsertest.Screenshot(t, ctx, "password-changed")
	st.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		return smtptest.To(email)(m) && m.Subject == "Your Portal password was changed"
	}, 10*time.Second)
	if r := st.Do(t, api, "GET", "/api/v1/self", nil); r.Status != 401 {
		t.Errorf("the script's session after the change: %d, want 401", r.Status)
	}

	// The section on a phone: the rules under the boxes, no sideways scroll.
	restore := browsertest.Phone(t, ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	do(chromedp.Navigate(st.URL + "/account#password"))
	browsertest.WaitText(t, ctx, "#password h2", "Password")
	if w := browsertest.Get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("at 390 px My Account scrolls sideways by %.0f px", w)
	}
	do(chromedp.ScrollIntoView(css("#password")))
	browsertest.Screenshot(t, ctx, "password-390px")
	restore()

	// Forgotten: log out, "Forgot password?" on the login page.
	do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(".usermenu > ul")),
		chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
	browsertest.WaitText(t, ctx, "h1", "Log in")
	do(chromedp.Click(css(`a.forgot`)))
	browsertest.WaitText(t, ctx, "h1", "Forgot your password?")
	do(chromedp.SendKeys(css("#email"), email))
	browsertest.Screenshot(t, ctx, "recover")
	do(chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", "Check your email")
	browsertest.WaitText(t, ctx, "main", "If "+email+" has a Portal account, we sent it a link")
	browsertest.Screenshot(t, ctx, "recover-sent")

	// The mail's link: a page to choose the new password under the policy.
	m := st.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		return smtptest.To(email)(m) && m.Subject == "Reset your Portal password"
	}, 10*time.Second)
	link := smtptest.FindLink(m.Text, st.URL+"/recover/verify?token=")
	if link == "" {
		t.Fatalf("no recovery link in the mail:\n%s", m.Text)
	}
	do(chromedp.Navigate(link))
	browsertest.WaitText(t, ctx, "h1", "Choose a new password")
	browsertest.WaitText(t, ctx, `.pwrules li[data-rule="min_length"]`, "at least 12 characters — required by "+orgName)
	const recovered = "Recovered: 12345!"
	do(chromedp.SendKeys(css("#new_password"), recovered), chromedp.SendKeys(css("#new_password_confirm"), "Recovered: 12345?"))
	browsertest.WaitTrue(t, ctx, "the confirmation rule marked broken", `document.querySelector('.pwrules li[data-rule="confirm"]').dataset.state === "bad"`)
	do(chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.error", "The new password and its confirmation do not match.")
	do(chromedp.SendKeys(css("#new_password"), "nospecial12345"), chromedp.SendKeys(css("#new_password_confirm"), "nospecial12345"),
		chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.error", "Password policy not met: a special character (neither a letter nor a digit) (required by "+orgName+").")
	browsertest.Screenshot(t, ctx, "recover-refused")
	do(chromedp.SendKeys(css("#new_password"), recovered), chromedp.SendKeys(css("#new_password_confirm"), recovered))
	browsertest.Screenshot(t, ctx, "recover-typed")
	do(chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Your new password is set, your other sessions were signed out and your API tokens deleted, and you are logged in.")
	browsertest.WaitText(t, ctx, "h1", orgName)
	browsertest.Screenshot(t, ctx, "recovered")

	// The link worked once; the new password logs in.
	do(chromedp.Navigate(link))
	browsertest.WaitText(t, ctx, ".flash.error", "This link has already been used.")
	browsertest.Screenshot(t, ctx, "recover-link-used")
	if _, r := loginAPI(t, st, email, strong); r.Status != 400 {
		t.Errorf("login with the forgotten password: %d", r.Status)
	}
	c, r := loginAPI(t, st, email, recovered)
	if r.Status != 200 {
		t.Fatalf("login with the recovered password: %d %s", r.Status, r.Body)
	}

	// Passwords expire after 30 days: 31 days later, after logging in,
	// every page leads to My Account ▸ Password until it is changed.
	org := "/orgs/" + st.Do(t, c, "GET", "/api/v1/self", nil).JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	if r := st.Do(t, c, "PUT", "/api/v1"+org+"/setting", map[string]any{"password_policy": map[string]any{"expiry_in_days": 30}}); r.Status != 200 {
		t.Fatalf("set the expiry: %d %s", r.Status, r.Body)
	}
	st.Clock.Advance(31 * 24 * time.Hour)
	do(chromedp.Navigate(st.URL + org))
	browsertest.WaitText(t, ctx, "h1", "Log in")
	do(chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), recovered), chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitLocation(t, ctx, "My Account at the Password section", func(u string) bool { return strings.HasSuffix(u, "/account#password") })
	browsertest.WaitText(t, ctx, "#password .flash.error", "Your password has expired. Choose a new one to continue.")
	browsertest.Screenshot(t, ctx, "expired")
	do(chromedp.Navigate(st.URL + org + "/settings"))
	browsertest.WaitLocation(t, ctx, "My Account again", func(u string) bool { return strings.HasSuffix(u, "/account#password") })
	do(chromedp.SendKeys(css("#current_password"), recovered), chromedp.SendKeys(css("#new_password"), strong),
		chromedp.SendKeys(css("#new_password_confirm"), strong), chromedp.Click(css(`form[action="/account/password"] button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Your password has been changed.")
	if n := browsertest.Get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#password .flash.error").length`)); n != 0 {
		t.Errorf("the expiry banner is still shown after the change")
	}
	do(chromedp.Navigate(st.URL + org + "/settings"))
	browsertest.WaitText(t, ctx, "h1", "Settings")
	if got := value("#expiry_in_days"); got != "30" {
		t.Errorf("expiry shown as %q, want 30", got)
	}
}

func loginAPI(t *testing.T, st *testenv.Stack, email, password string) (*http.Client, testenv.Response) {
	t.Helper()
	c := st.Client()
	return c, st.Do(t, c, "POST", "/api/v1/login", map[string]any{"email": email, "password": password})
}
