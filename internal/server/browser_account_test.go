package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/internal/app"
	"portal/internal/browsertest"
	"portal/internal/format"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Browser tests of My Account: changing the e-mail address, the name and
// phone, and the display preferences, step by step as a user clicks them.

// accountBrowser is one browser tab on one Portal, with the steps shared
// by the My Account tests.
type accountBrowser struct {
	t   *testing.T
	ctx context.Context
	st  *testenv.Stack
}

func newAccountBrowser(t *testing.T) *accountBrowser {
	ctx := browsertest.New(t)
	return &accountBrowser{t: t, ctx: ctx, st: testenv.NewStack(t, store.SQLite)}
}

func (b *accountBrowser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	browsertest.Do(b.t, b.ctx, steps...)
}

func (b *accountBrowser) value(sel string) string {
	b.t.Helper()
	return browsertest.Get(b.t, b.ctx, chromedp.Value(chromedp.CSS(sel)))
}

func (b *accountBrowser) text(sel, want string) {
	b.t.Helper()
	browsertest.WaitText(b.t, b.ctx, sel, want)
}

func (b *accountBrowser) shot(name string) {
	b.t.Helper()
	browsertest.Screenshot(b.t, b.ctx, name)
}

// login logs in through the login page (already open when onPage).
func (b *accountBrowser) login(email, password string, onPage bool) {
	b.t.Helper()
	if !onPage {
		b.do(chromedp.Navigate(b.st.URL + "/login"))
	}
	b.do(chromedp.WaitVisible(chromedp.CSS("#password")))
	if b.value("#email") == "" {
		b.do(chromedp.SendKeys(chromedp.CSS("#email"), email))
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#password"), password), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
}

// openMyAccount goes to My Account through the user menu.
func (b *accountBrowser) openMyAccount() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(".usermenu summary")), chromedp.WaitVisible(chromedp.CSS(`.usermenu a[href="/account"]`)),
		chromedp.Click(chromedp.CSS(`.usermenu a[href="/account"]`)))
	b.text("h1", "My Account")
}

// replace clears an input and types s into it.
func (b *accountBrowser) replace(sel, s string) {
	b.t.Helper()
	b.do(chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), s))
}

// noSidewaysScroll fails when the page is wider than a 390 px phone.
func (b *accountBrowser) noSidewaysScroll(what string) {
	b.t.Helper()
	restore := browsertest.Phone(b.t, b.ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	defer restore()
	if w := browsertest.Get(b.t, b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		b.t.Errorf("at 390 px %s scrolls sideways by %.0f px", what, w)
	}
	b.shot(what + "-390px")
}

// mailLink waits for the first mail to addr with a link starting with
// prefix (after the base URL) and returns the link.
func (b *accountBrowser) mailLink(addr, prefix string) string {
	b.t.Helper()
	m := b.st.SMTP.WaitFor(b.t, func(m smtptest.Message) bool {
		return smtptest.To(addr)(m) && smtptest.FindLink(m.Text, b.st.URL+prefix) != ""
	}, 10*time.Second)
	return smtptest.FindLink(m.Text, b.st.URL+prefix)
}

// TestBrowserAccountEmailChange is procedure 1: My Account → CHANGE →
// Change Email window → the link mailed to the new address → confirm;
// then name and phone → Save, and a bad phone.
func TestBrowserAccountEmailChange(t *testing.T) {
	b := newAccountBrowser(t)
	const (
		oldAddr  = "ann.lee@example.com"
		newAddr  = "ann@lee.example.org"
		password = "correct horse 9!"
	)
	b.st.SignUp(t, oldAddr, password, "Acme Networks")
	b.login(oldAddr, password, false)
	b.text(".topbar .orgname", "Acme Networks")
	b.openMyAccount()
	b.text("#info .fields", oldAddr)
	b.shot("my-account")

	// CHANGE opens the Change Email window, focused on the new address.
	b.do(chromedp.Click(chromedp.CSS("#change-email")), chromedp.WaitVisible(chromedp.CSS("#change-email-dialog")))
	b.text("#change-email-dialog h2", "Change Email")
	if focused := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "dlg-new-email" {
		t.Errorf("the Change Email window opened with the focus on %q", focused)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#dlg-new-email"), newAddr))
	b.text("#change-email-dialog", "so a change needs your password")
	b.do(chromedp.SendKeys(chromedp.CSS("#change-email-dialog #email-password"), password))
	b.shot("change-email-window")
	b.do(chromedp.Click(chromedp.CSS(`#change-email-dialog button[type=submit]`)))
	b.text(".flash.ok", "We sent a link to "+newAddr+".")
	b.text("#info .pending-email", "Waiting for you to follow the link we sent to "+newAddr)
	b.text("#current-email", oldAddr) // unchanged until the link is followed
	b.shot("change-requested")

	// The link from the new mailbox, followed while logged in: a button
	// confirms (opening the link changes nothing by itself).
	link := b.mailLink(newAddr, "/account/email/verify?token=")
	b.do(chromedp.Navigate(link))
	b.text("h1", "Confirm your new email address")
	b.text("main", "from "+oldAddr+" to "+newAddr)
	b.shot("confirm-page")
	b.do(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text(".flash.ok", "Your email address is successfully updated. It is now "+newAddr+".")
	b.text("#current-email", newAddr)
	if n := browsertest.Get(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#info .pending-email").length`)); n != 0 {
		t.Error("a pending change is still shown after confirming it")
	}
	b.text(".usermenu .who", newAddr)
	b.shot("email-changed")
	// The old address got its "this wasn't me" notice.
	if l := b.mailLink(oldAddr, "/account/email/revert?token="); l == "" {
		t.Error("no notice to the old address")
	}

	// Name and phone → Save.
	b.replace("#first_name", "Annie")
	b.replace("#last_name", "Lee-Smith")
	b.replace("#phone", "+44 20 7946 0958")
	b.do(chromedp.Click(chromedp.CSS(`#info form.info-form button[type=submit]`)))
	b.text(".flash.ok", "Your user account information is successfully updated.")
	for sel, want := range map[string]string{"#first_name": "Annie", "#last_name": "Lee-Smith", "#phone": "+442079460958"} {
		if got := b.value(sel); got != want {
			t.Errorf("after Save %s = %q, want %q", sel, got, want)
		}
	}
	b.shot("info-saved")

	// A bad phone: the message, and what was typed stays.
	b.replace("#first_name", "Ann")
	b.replace("#phone", "12345")
	b.do(chromedp.Click(chromedp.CSS(`#info form.info-form button[type=submit]`)))
	b.text("#info .flash.error", "Phone must start with a country code")
	for sel, want := range map[string]string{"#first_name": "Ann", "#phone": "12345"} {
		if got := b.value(sel); got != want {
			t.Errorf("after a refused Save %s = %q, want %q kept", sel, got, want)
		}
	}
	b.shot("info-bad-phone")

	// Resend and Cancel of a pending change.
	b.do(chromedp.Navigate(b.st.URL+"/account"), chromedp.Click(chromedp.CSS("#change-email")), chromedp.WaitVisible(chromedp.CSS("#dlg-new-email")),
		chromedp.SendKeys(chromedp.CSS("#dlg-new-email"), "ann.x@example.org"), chromedp.SendKeys(chromedp.CSS("#change-email-dialog #email-password"), password),
		chromedp.Click(chromedp.CSS(`#change-email-dialog button[type=submit]`)))
	b.text("#info .pending-email", "ann.x@example.org")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/account/email/resend"] button`)))
	b.text(".flash.ok", "We sent a new link to ann.x@example.org.")
	b.do(chromedp.Click(chromedp.CSS(`form[action="/account/email/cancel"] button`)))
	b.text(".flash.ok", "The change of your email address is cancelled.")
	if n := browsertest.Get(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#info .pending-email").length`)); n != 0 {
		t.Error("the cancelled change is still shown")
	}

	// Without JavaScript's window: the Change Email page, with errors.
	b.do(chromedp.Navigate(b.st.URL + "/account/email"))
	b.text("h1", "Change Email")
	b.do(chromedp.SendKeys(chromedp.CSS("#new-email"), newAddr), chromedp.SendKeys(chromedp.CSS("#email-password"), password),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text(".flash.error", "That is already your email address.")
	if got := b.value("#new-email"); got != newAddr {
		t.Errorf("the page lost what was typed: %q", got)
	}
	b.shot("change-email-page-error")
	// A wrong password: refused, the address typed stays, the password does not.
	b.replace("#new-email", "ann.other@example.org")
	b.do(chromedp.SendKeys(chromedp.CSS("#email-password"), "not my password"), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text(".flash.error", "The current password is not correct.")
	if got, pw := b.value("#new-email"), b.value("#email-password"); got != "ann.other@example.org" || pw != "" {
		t.Errorf("after a wrong password: address %q (want kept), password %q (want empty)", got, pw)
	}
	if focused := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "email-password" {
		t.Errorf("after a wrong password the focus is on %q, want the password field", focused)
	}
	b.shot("change-email-wrong-password")

	// The link followed after logging out: log in, then back to confirm.
	b.do(chromedp.Navigate(b.st.URL+"/account/email"), chromedp.SendKeys(chromedp.CSS("#new-email"), "ann.final@example.org"),
		chromedp.SendKeys(chromedp.CSS("#email-password"), password), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text(".flash.ok", "We sent a link to ann.final@example.org.")
	b.do(chromedp.Click(chromedp.CSS(".usermenu summary")), chromedp.Click(chromedp.CSS(`.usermenu form[action="/logout"] button`)))
	b.text(".flash.ok", "You have been logged out.")
	b.do(chromedp.Navigate(b.mailLink("ann.final@example.org", "/account/email/verify?token=")))
	browsertest.WaitLocation(t, b.ctx, "the login page", func(u string) bool { return strings.HasPrefix(u, b.st.URL+"/login?next=") })
	b.login(newAddr, password, true)
	b.text("h1", "Confirm your new email address")
	b.do(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text(".flash.ok", "It is now ann.final@example.org.")

	b.do(chromedp.Navigate(b.st.URL + "/account"))
	b.text("h1", "My Account")
	b.noSidewaysScroll("my-account")
}

// TestBrowserAccountEmailRevert: "this wasn't me" from the old mailbox
// restores the address, signs out everywhere and sends the owner to
// "Forgot password?".
func TestBrowserAccountEmailRevert(t *testing.T) {
	b := newAccountBrowser(t)
	const oldAddr, password = "bob@example.com", "correct horse 9!"
	c := b.st.SignUp(t, oldAddr, password, "")
	r := b.st.Do(t, c, "POST", "/api/v1/self/update", map[string]any{"email": "mallory@example.net", "password": password})
	if r.Status != 200 {
		t.Fatalf("request change: %d %s", r.Status, r.Body)
	}
	verify := b.mailLink("mallory@example.net", "/account/email/verify?token=")
	token := verify[strings.Index(verify, "token=")+len("token="):]
	if r := b.st.Do(t, c, "GET", "/api/v1/self/update/verify/"+token, nil); r.Status != 200 {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}

	b.do(chromedp.Navigate(b.mailLink(oldAddr, "/account/email/revert?token=")))
	b.text("h1", "This wasn't me")
	b.text("main", "Put "+oldAddr+" back")
	b.shot("revert-page")
	b.do(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text("h1", "Email address restored")
	b.text("main", "Forgot password?")
	b.shot("reverted")
	if r := b.st.Do(t, c, "GET", "/api/v1/self", nil); r.Status != 401 {
		t.Errorf("the API session after the revert: %d", r.Status)
	}

	b.do(chromedp.Click(chromedp.CSS(`main a[href^="/login"]`)))
	b.login(oldAddr, password, true)
	b.text(".flash.error", "choose a new password with Forgot password?")
	b.shot("login-refused")
}

// TestBrowserAccountPreferences is procedure 4: choose the MAC address
// format xxxx.xxxx.xxxx, 24-hour time and a time zone → Save → the MAC
// address and the times on the page change format.
func TestBrowserAccountPreferences(t *testing.T) {
	b := newAccountBrowser(t)
	const email, password = "cat@example.com", "correct horse 9!"
	c := b.st.SignUp(t, email, password, "")
	// A pending e-mail change: its expiry is one more time on the page.
	if r := b.st.Do(t, c, "POST", "/api/v1/self/update", map[string]any{"email": "cat.new@example.com", "password": password}); r.Status != 200 {
		t.Fatalf("request change: %d %s", r.Status, r.Body)
	}
	b.login(email, password, false)
	b.openMyAccount()

	now := b.st.Clock.Now()
	expires := now.Add(24 * time.Hour)
	before := format.Prefs{MACFormat: format.MACColon}
	b.text("#info .pending-email", "It expires "+before.Time(expires)+".")
	b.text("#prefs-example .mac", "5c:5b:35:0e:1f:a0")
	b.text("#prefs-example .time", before.Time(now))
	if !strings.HasSuffix(before.Time(now), "M UTC") {
		t.Fatalf("12-hour UTC time %q", before.Time(now))
	}
	if checked := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`document.querySelector("input[name=mac_format]:checked").value`)); checked != format.MACColon {
		t.Errorf("MAC format %q checked by default", checked)
	}
	if b.value("#timezone") != "UTC" {
		t.Errorf("time zone %q by default", b.value("#timezone"))
	}
	b.do(chromedp.ScrollIntoView(chromedp.CSS("#prefs")))
	b.shot("preferences")

	b.do(chromedp.Click(chromedp.CSS(`input[name=mac_format][value="xxxx.xxxx.xxxx"]`)),
		chromedp.Click(chromedp.CSS("#hour24")),
		chromedp.SetValue(chromedp.CSS("#timezone"), "Asia/Tokyo"),
		chromedp.Click(chromedp.CSS(`#prefs button[type=submit]`)))
	b.text(".flash.ok", "Your preferences are saved.")

	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	after := format.Prefs{MACFormat: format.MACDot, Hour24: true, Location: tokyo}
	b.text("#prefs-example .mac", "5c5b.350e.1fa0")
	b.text("#prefs-example .time", after.Time(now))
	if got := after.Time(now); strings.Contains(got, "M ") || !strings.HasSuffix(got, " JST") {
		t.Fatalf("24-hour Tokyo time %q", got)
	}
	u, err := b.st.DB.GetUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if p := app.Prefs(u); p.MACFormat != after.MACFormat || p.Hour24 != after.Hour24 || p.Location.String() != "Asia/Tokyo" {
		t.Errorf("stored preferences = %+v", p)
	}
	// Every time on the page follows the preference, not just the example.
	b.text("#info .pending-email", "It expires "+after.Time(expires)+".")
	if old := before.Time(now); browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.querySelector("main").innerText.includes(`+strconv.Quote(old)+`)`)) {
		t.Errorf("the page still shows a time in the old format (%q) after saving the preferences", old)
	}
	if b.value("#timezone") != "Asia/Tokyo" || !browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.getElementById("hour24").checked`)) {
		t.Error("the saved preferences are not shown in the form")
	}
	b.do(chromedp.ScrollIntoView(chromedp.CSS("#prefs")))
	b.shot("preferences-saved")

	// Back to the 12-hour clock: the unticked box is saved too.
	b.do(chromedp.Click(chromedp.CSS("#hour24")), chromedp.Click(chromedp.CSS(`#prefs button[type=submit]`)))
	b.text(".flash.ok", "Your preferences are saved.")
	after.Hour24 = false
	b.text("#prefs-example .time", after.Time(now))
	b.text("#prefs-example .mac", "5c5b.350e.1fa0")
}
