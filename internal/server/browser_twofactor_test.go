package server_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"portal/internal/browsertest"
)

// TestBrowserTwoFactor is turning two-factor authentication on, step by
// step as a user clicks it: My Account → Authentication → tick "Enable Two Factor Authentication" →
// Save → Verify → the "Verification of Two Factor Authentication" page with
// a QR code (decoded here, as a phone would) and the secret as text → the
// token an authenticator app computes → Verify → recovery codes → the green
// check mark. Then a login asks for a code on a second page; another uses a
// recovery code instead; finally the user turns it off again.
func TestBrowserTwoFactor(t *testing.T) {
	b := newAccountBrowser(t)
	st := b.st
	const (
		email    = "ann.lee@example.com"
		password = "correct horse 2fa!"
		orgName  = "Acme Networks"
	)
	api := st.SignUp(t, email, password, orgName)
	if r := st.Do(t, api, "PUT", "/api/v1/self", map[string]any{"first_name": "Ann", "last_name": "Lee"}); r.Status != 200 {
		t.Fatalf("name: %d %s", r.Status, r.Body)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	eval := func(js string) string {
		t.Helper()
		return browsertest.Get(t, b.ctx, chromedp.Evaluate[string](js))
	}
	visible := func(sel string) bool {
		t.Helper()
		return browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); return !!e && e.offsetParent !== null; })()`))
	}
	phone := func(name string) { // the page on a phone: no sideways scrolling
		t.Helper()
		restore := browsertest.Phone(t, b.ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
		if w := browsertest.Get(t, b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
			t.Errorf("%s: at 390 px the page scrolls sideways by %.0f px", name, w)
		}
		b.shot(name)
		restore()
	}
	app := func(secret string) string { // what the authenticator app shows now
		t.Helper()
		code, err := totp.GenerateCode(secret, st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return code
	}

	b.login(email, password, false)
	b.text("h1", orgName)
	b.openMyAccount()

	// 1. My Account → Authentication: tick "Enable Two Factor Authentication".
	b.text("#authentication h2", "Authentication")
	b.text("#authentication label.choice", "Enable Two Factor Authentication")
	if visible("#two-factor-verify") || visible("#two-factor-verified") {
		t.Error("a Verify button or check mark shows before two-factor authentication is enabled")
	}
	b.do(chromedp.ScrollIntoView(css("#authentication")))
	b.shot("authentication-section")
	b.do(chromedp.Click(css("#enable_two_factor")))

	// 2. Save: a message, and a Verify button next to the option.
	b.do(chromedp.Click(css(`form[action="/account/authentication"] button[type=submit]`)))
	b.text(".flash.ok", "Your account is updated. Click Verify to finish turning on two-factor authentication.")
	b.text("#authentication .tf-option #two-factor-verify", "Verify")
	if !browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.getElementById("enable_two_factor").checked`)) {
		t.Error("the box is not ticked after saving")
	}
	// Next to the option: on the same line, to its right.
	if dy := browsertest.Get(t, b.ctx, chromedp.Evaluate[float64](`(() => {
		const a = document.querySelector("#authentication label.choice").getBoundingClientRect();
		const v = document.getElementById("two-factor-verify").getBoundingClientRect();
		return Math.abs((a.top + a.bottom) / 2 - (v.top + v.bottom) / 2) + (v.left > a.right ? 0 : 1000);
	})()`)); dy > 8 {
		t.Errorf("the Verify button is not beside the option (offset %.0f)", dy)
	}
	b.do(chromedp.ScrollIntoView(css("#authentication")))
	b.shot("saved-verify-button")

	// 3. Verify: the verification page, a QR code, the secret below it.
	b.do(chromedp.Click(css("#two-factor-verify")))
	b.text("h1", "Verification of Two Factor Authentication")
	browsertest.WaitTrue(t, b.ctx, "the QR code image to load", `document.querySelector("img.qr").complete && document.querySelector("img.qr").naturalWidth > 100`)
	secret := strings.TrimSpace(eval(`document.getElementById("two-factor-secret").textContent`))
	if len(secret) != 32 {
		t.Fatalf("secret on the page %q: want 32 base32 characters", secret)
	}
	if below := browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.getElementById("two-factor-secret").getBoundingClientRect().top > document.querySelector("img.qr").getBoundingClientRect().bottom`)); !below {
		t.Error("the secret is not below the QR code")
	}
	b.shot("verification-page")
	phone("verification-page-390px")

	// 4. The QR code carries the otpauth:// URI of that secret, issuer
	// Portal, the e-mail as account name (read as a phone's camera would).
	src := eval(`document.querySelector("img.qr").getAttribute("src")`)
	if !strings.HasPrefix(src, "/") {
		t.Errorf("QR code served from %q, want our own path", src)
	}
	pngB64 := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector("img.qr").src).then(r => r.arrayBuffer()).then(buf => {
		let s = ""; new Uint8Array(buf).forEach(c => s += String.fromCharCode(c)); return btoa(s); })`, chromedp.EvalAwaitPromise))
	png, err := base64.StdEncoding.DecodeString(pngB64)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := url.Parse(decodeQR(t, png))
	if err != nil {
		t.Fatal(err)
	}
	q := uri.Query()
	if uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Path != "/Portal:"+email || q.Get("issuer") != "Portal" || q.Get("secret") != secret ||
		q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("QR code carries %q; want otpauth://totp/Portal:%s with the page's secret, issuer Portal, SHA1, 6 digits, 30 s", uri, email)
	}

	// 5. A wrong token first, then the app's.
	b.do(chromedp.SendKeys(css("#two_factor"), wrongCode(app(secret))), chromedp.Click(css(`main form button[type=submit]`)))
	b.text(".flash.error", "The code is not correct")
	b.text("h1", "Verification of Two Factor Authentication")
	b.shot("wrong-token")
	b.do(chromedp.SendKeys(css("#two_factor"), app(secret)), chromedp.Click(css(`main form button[type=submit]`)))
	b.text("h1", "Two-factor authentication is on")
	b.text(".flash.ok", "Two-factor authentication is verified and turned on.")
	codes := strings.Fields(eval(`Array.from(document.querySelectorAll("#recovery-codes code"), c => c.textContent).join(" ")`))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes on the page, want 10: %v", len(codes), codes)
	}
	if !visible("#copy-codes") || !visible("#download-codes") {
		t.Error("the Copy and Download buttons do not show")
	}
	b.do(chromedp.Click(css("#download-codes")))
	b.text("#codes-status", "Downloaded portal-recovery-codes.txt.")
	b.do(chromedp.Click(css("#copy-codes")))
	browsertest.WaitTrue(t, b.ctx, "the copy to report", `!document.getElementById("codes-status").textContent.startsWith("Downloaded")`)
	b.shot("recovery-codes")
	phone("recovery-codes-390px")

	// 6. My Account: the green check mark beside the option.
	b.do(chromedp.Click(css(`main a[href="/account#authentication"]`)))
	b.text("h1", "My Account")
	b.text("#authentication #two-factor-verified", "Verified")
	if green := eval(`getComputedStyle(document.querySelector("#two-factor-verified .check")).backgroundColor`); green != "rgb(31, 138, 61)" {
		t.Errorf("check mark background %s, want green", green)
	}
	if visible("#two-factor-verify") {
		t.Error("the Verify button still shows")
	}
	if visible("#two-factor-disable") {
		t.Error("the fields to turn it off show while the box is ticked")
	}
	b.text("#recovery-codes-left", "10 of 10")
	b.do(chromedp.ScrollIntoView(css("#authentication")))
	b.shot("verified-check-mark")

	// From the next login on, the password alone is not enough.
	logout := func() {
		t.Helper()
		b.do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(`.usermenu form[action="/logout"] button`)),
			chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
		b.text(".flash.ok", "You have been logged out.")
	}
	logout()
	st.Clock.Advance(30 * time.Second) // a new code (the one used to verify is spent)
	b.login(email, password, true)
	b.text("h1", "Two-factor authentication")
	b.text("main", "Logging in as "+email)
	if visible(".usermenu") {
		t.Error("the user menu shows before the second factor")
	}
	b.shot("login-second-page")
	b.do(chromedp.SendKeys(css("#two_factor"), wrongCode(app(secret))), chromedp.Click(css(`main form button[type=submit]`)))
	b.text(".flash.error", "The code is not correct")
	b.do(chromedp.SendKeys(css("#two_factor"), app(secret)), chromedp.Click(css(`main form button[type=submit]`)))
	b.text("h1", orgName)
	b.shot("logged-in-with-code")

	// Once with a recovery code instead.
	logout()
	b.login(email, password, true)
	b.text("h1", "Two-factor authentication")
	b.do(chromedp.Click(css("#use-recovery-code")))
	b.text("label[for=two_factor]", "Recovery Code")
	b.shot("login-recovery-code")
	b.do(chromedp.SendKeys(css("#two_factor"), codes[0]), chromedp.Click(css(`main form button[type=submit]`)))
	b.text(".flash.ok", "You logged in with a recovery code")
	b.text("h1", orgName)
	b.openMyAccount()
	b.text("#recovery-codes-left", "9 of 10")

	// Turning it off: untick, then the password and a code.
	st.Clock.Advance(30 * time.Second)
	b.do(chromedp.ScrollIntoView(css("#authentication")), chromedp.Click(css("#enable_two_factor")))
	browsertest.WaitTrue(t, b.ctx, "the fields to turn it off", `!document.getElementById("two-factor-disable").hidden`)
	b.do(chromedp.Click(css(`form[action="/account/authentication"] button[type=submit]`)))
	b.text("#authentication .flash.error", "To turn off two-factor authentication, give your current password and a code from your authenticator app (or a recovery code).")
	b.do(chromedp.ScrollIntoView(css("#authentication")))
	b.shot("turn-off-error")
	b.do(chromedp.SendKeys(css("#tf_current_password"), password), chromedp.SendKeys(css("#tf_code"), app(secret)),
		chromedp.Click(css(`form[action="/account/authentication"] button[type=submit]`)))
	b.text(".flash.ok", "Two-factor authentication is off.")
	if visible("#two-factor-verified") || browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.getElementById("enable_two_factor").checked`)) {
		t.Error("still shown as on after turning it off")
	}
	b.shot("turned-off")
}

// TestBrowserTwoFactorGrace: an organization requires two-factor
// authentication with a grace period; a banner counts the days, and once
// they are over the member is sent to enrol right after logging in.
func TestBrowserTwoFactorGrace(t *testing.T) {
	b := newAccountBrowser(t)
	st := b.st
	const (
		email    = "ann.lee@example.com"
		password = "correct horse 2fa!"
		orgName  = "Acme Networks"
	)
	st.SignUp(t, email, password, orgName)
	b.login(email, password, false)
	b.text("h1", orgName)

	// Organization ▸ Settings: require it, with 2 days of grace.
	b.do(chromedp.Click(chromedp.CSS(`.sidenav a[href$="/settings"]`)))
	b.text("h1", "Settings")
	b.do(chromedp.Click(chromedp.CSS("#enabled")), chromedp.Click(chromedp.CSS("#requires_two_factor_auth")),
		chromedp.SetValue(chromedp.CSS("#two_factor_grace_days"), "2"), chromedp.ScrollIntoView(chromedp.CSS("#two_factor_grace_days")))
	b.shot("settings-require-2fa")
	b.do(chromedp.Click(chromedp.CSS(`form.policy button[type=submit]`)))
	b.text(".flash.ok", "The password policy is saved.")
	b.text("#twofactor-banner", orgName+" requires two-factor authentication: 2 days left to turn it on.")
	b.shot("grace-banner")

	// Two days later (the session has expired: log in again): straight to
	// enrolment.
	st.Clock.Advance(48*time.Hour + time.Minute)
	b.login(email, password, false)
	browsertest.WaitLocation(t, b.ctx, "My Account", func(u string) bool { return strings.HasSuffix(u, "/account#authentication") })
	b.text("#authentication .flash.error", orgName+" requires two-factor authentication. Turn it on to continue using Portal.")
	b.do(chromedp.ScrollIntoView(chromedp.CSS("#authentication")))
	b.shot("enrolment-required")
}
