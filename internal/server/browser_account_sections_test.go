package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portal/internal/browsertest"
	"portal/internal/format"
)

// Browser tests of My Account as a page one finds one's way in (issue 13):
// each save's confirmation shows where the eye is, in the section saved;
// errors are tied to their field; the section navigation; the Example
// line of Preferences follows the choices before Save.

// screen is a window size the tests look at My Account in.
type screen struct {
	name          string
	width, height int64
	phone         bool
}

var accountScreens = []screen{{"1366px", browsertest.Width, browsertest.Height, false}, {"390px", browsertest.PhoneWidth, browsertest.PhoneHeight, true}}

// size makes the tab the screen's size until the returned func restores it.
func (b *accountBrowser) size(sc screen) (restore func()) {
	b.t.Helper()
	if sc.phone {
		return browsertest.Phone(b.t, b.ctx, sc.width, sc.height)
	}
	b.do(chromedp.EmulateViewport(sc.width, sc.height))
	return func() {
		b.t.Helper()
		browsertest.Desktop(b.t, b.ctx)
	}
}

// inView fails unless the element of sel lies wholly inside the window.
func (b *accountBrowser) inView(sel, what string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return "missing";
		const r = e.getBoundingClientRect();
		return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0 ? "" : "top " + Math.round(r.top) + ", bottom " + Math.round(r.bottom) + " of a " + window.innerHeight + " px window"; })()`, sel)
	if got := browsertest.Get(b.t, b.ctx, chromedp.Evaluate[string](js)); got != "" {
		b.t.Errorf("%s (%s) is not in view: %s", what, sel, got)
	}
}

// attr is an attribute of the element of sel ("" when absent).
func (b *accountBrowser) attr(sel, name string) string {
	b.t.Helper()
	return browsertest.Get(b.t, b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => "missing"}).getAttribute(%q) || ""`, sel, name)))
}

// focused is the id of the element with the focus.
func (b *accountBrowser) focused() string {
	b.t.Helper()
	return browsertest.Get(b.t, b.ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
}

// saved clicks the button of sel and waits for the confirmation inside
// the section, then checks that it is in view and read out.
func (b *accountBrowser) saved(section, button, want, shot string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(button)))
	b.text("#"+section+" .flash.ok", want)
	sel := "#" + section + " .flash.ok[data-section-status]"
	b.inView(sel, "the confirmation of "+section)
	if role := b.attr(sel, "role"); role != "status" {
		b.t.Errorf("the confirmation of %s has role %q, want status (read out by screen readers)", section, role)
	}
	if section != "apitokens" || !strings.Contains(want, "created") { // a new key has the focus
		browsertest.WaitTrue(b.t, b.ctx, "the focus on the confirmation of "+section, `document.activeElement && document.activeElement.id === "`+section+`-status"`)
	}
	if n := browsertest.Get(b.t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("main > .flash.ok").length`)); n != 0 {
		b.t.Errorf("after saving %s a confirmation is still atop the page too", section)
	}
	browsertest.ScreenshotWindow(b.t, b.ctx, shot)
}

// TestBrowserAccountConfirmationsInView: after each Save on My Account
// (Account Information, Password, Authentication, Preferences, API Tokens
// create and delete), at 1366×900 and on a 390×844 phone, the green
// confirmation is inside the section saved and inside the window. Errors
// show there too, tied to their field, with what was typed kept (never a
// password, except the current one when only the new one was refused).
func TestBrowserAccountConfirmationsInView(t *testing.T) {
	b := newAccountBrowser(t)
	const email, first = "dee@example.com", "first password 1"
	b.st.SignUp(t, email, first, "Acme Networks")
	b.login(email, first, false)
	b.text(".topbar .orgname", "Acme Networks")
	password := first
	for i, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Navigate(b.st.URL + "/account"))
		b.text("h1", "My Account")

		b.replace("#first_name", "Dee"+strconv.Itoa(i))
		b.saved("info", "#info form.info-form button[type=submit]", "Your user account information is successfully updated.", "info-saved-"+sc.name)

		next := fmt.Sprintf("second horse %d!", i+2)
		b.do(chromedp.SendKeys(chromedp.CSS("#current_password"), password), chromedp.SendKeys(chromedp.CSS("#new_password"), next),
			chromedp.SendKeys(chromedp.CSS("#new_password_confirm"), next))
		b.saved("password", "#password button[type=submit]", "Your password has been changed.", "password-saved-"+sc.name)
		password = next

		b.do(chromedp.Click(chromedp.CSS("#enable_two_factor")))
		b.saved("authentication", "#authentication button[type=submit]", "Click Verify to finish", "authentication-saved-"+sc.name)
		b.do(chromedp.Click(chromedp.CSS("#enable_two_factor")))
		b.saved("authentication", "#authentication button[type=submit]", "was not verified and is now off", "authentication-off-"+sc.name)

		b.do(chromedp.Click(chromedp.CSS(`input[name=mac_format][value="xx-xx-xx-xx-xx-xx"]`)))
		b.saved("prefs", "#prefs button[type=submit]", "Your preferences are saved.", "prefs-saved-"+sc.name)

		name := "script " + sc.name
		b.do(chromedp.SendKeys(chromedp.CSS("#apitoken-name"), name))
		b.saved("apitokens", "#apitokens form.newtoken-form button[type=submit]", "API token "+name+" created.", "apitoken-created-"+sc.name)
		b.inView("#new-token-key", "the new key")
		if f := b.focused(); f != "new-token-key" {
			t.Errorf("after creating a token the focus is on %q, want the key", f)
		}
		b.do(chromedp.Click(chromedp.CSS("#apitokens .tokenactions button")))
		b.saved("apitokens", "#delete-token-dialog button[type=submit]", "Deleted API token "+name, "apitoken-deleted-"+sc.name)

		// Errors: in the section, in view, tied to the field, what was typed kept.
		b.replace("#phone", "12345")
		b.do(chromedp.Click(chromedp.CSS("#info form.info-form button[type=submit]")))
		b.text("#info #info-error", "Phone must start with a country code")
		b.inView("#info-error", "the error of Account Information")
		if got := b.value("#phone"); got != "12345" {
			t.Errorf("after a refused Save the phone field = %q, want what was typed", got)
		}
		if inv, desc := b.attr("#phone", "aria-invalid"), b.attr("#phone", "aria-describedby"); inv != "true" || desc != "info-error" {
			t.Errorf("a refused phone: aria-invalid %q, aria-describedby %q on the phone field", inv, desc)
		}
		browsertest.WaitTrue(t, b.ctx, "the focus on the phone field in error", `document.activeElement.id === "phone"`)
		browsertest.ScreenshotWindow(t, b.ctx, "info-error-"+sc.name)

		// A wrong current password: that field is in error, and empty.
		b.do(chromedp.SendKeys(chromedp.CSS("#current_password"), "not my password"), chromedp.SendKeys(chromedp.CSS("#new_password"), "third horse 9!"),
			chromedp.SendKeys(chromedp.CSS("#new_password_confirm"), "third horse 9!"), chromedp.Click(chromedp.CSS("#password button[type=submit]")))
		b.text("#password-error", "The current password is not correct.")
		b.inView("#password-error", "the error of Password")
		if got, inv, desc := b.value("#current_password"), b.attr("#current_password", "aria-invalid"), b.attr("#current_password", "aria-describedby"); got != "" || inv != "true" || desc != "password-error" {
			t.Errorf("wrong current password: field %q (want empty), aria-invalid %q, aria-describedby %q", got, inv, desc)
		}
		if inv := b.attr("#new_password", "aria-invalid"); inv != "" {
			t.Errorf("wrong current password: the new password is marked invalid too (%q)", inv)
		}
		if f := b.focused(); f != "current_password" {
			t.Errorf("wrong current password: the focus is on %q, want the field", f)
		}
		browsertest.ScreenshotWindow(t, b.ctx, "password-wrong-current-"+sc.name)

		// The right current password, a new one the policy refuses: the
		// current one is kept, the new one is in error.
		b.do(chromedp.SendKeys(chromedp.CSS("#current_password"), password), chromedp.SendKeys(chromedp.CSS("#new_password"), "password"),
			chromedp.SendKeys(chromedp.CSS("#new_password_confirm"), "password"), chromedp.Click(chromedp.CSS("#password button[type=submit]")))
		b.text("#password-error", "Password policy not met")
		if got := b.value("#current_password"); got != password {
			t.Errorf("a refused new password: the right current password was not kept (%q)", got)
		}
		if got, inv, desc := b.value("#new_password"), b.attr("#new_password", "aria-invalid"), b.attr("#new_password", "aria-describedby"); got != "" || inv != "true" || desc != "password-error password-rules" {
			t.Errorf("a refused new password: field %q (want empty), aria-invalid %q, aria-describedby %q", got, inv, desc)
		}
		if inv := b.attr("#current_password", "aria-invalid"); inv != "" {
			t.Errorf("a refused new password: the current password is marked invalid (%q)", inv)
		}
		browsertest.ScreenshotWindow(t, b.ctx, "password-policy-error-"+sc.name)

		// The confirmation does not match.
		b.do(chromedp.Navigate(b.st.URL+"/account#password"), chromedp.SendKeys(chromedp.CSS("#current_password"), password),
			chromedp.SendKeys(chromedp.CSS("#new_password"), "fourth horse 9!"), chromedp.SendKeys(chromedp.CSS("#new_password_confirm"), "fourth horse 8!"),
			chromedp.Click(chromedp.CSS("#password button[type=submit]")))
		b.text("#password-error", "do not match")
		if inv := b.attr("#new_password_confirm", "aria-invalid"); inv != "true" {
			t.Errorf("mismatched confirmation: aria-invalid %q on the confirmation", inv)
		}
		restore()
	}
}

// TestBrowserAccountNavigation: My Account lists its sections, from their
// registration, beside them on a wide screen and above them on a phone;
// each link jumps to its section; a deep link (/account#password) opens
// at the section.
func TestBrowserAccountNavigation(t *testing.T) {
	b := newAccountBrowser(t)
	const email, password = "eve@example.com", "first password 1"
	b.st.SignUp(t, email, password, "Acme Networks")
	b.login(email, password, false)
	b.text(".topbar .orgname", "Acme Networks")
	for _, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Navigate(b.st.URL + "/account"))
		b.text("h1", "My Account")
		// One link per section, named as the section's heading, in page order.
		got := browsertest.Get(t, b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".account-nav a"), a => a.getAttribute("href") + " " + a.textContent.trim())`))
		want := browsertest.Get(t, b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".account-sections > section"), s => "#" + s.id + " " + s.querySelector("h2").textContent.trim())`))
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: the navigation lists %q; the sections are %q", sc.name, got, want)
		}
		for _, title := range []string{"Account Information", "Password", "Authentication", "Preferences", "Organizations", "Sessions", "API Tokens"} {
			if !strings.Contains(strings.Join(got, "|"), " "+title) {
				t.Errorf("%s: the navigation has no %q", sc.name, title)
			}
		}
		// Beside the sections on a wide screen, above them on a phone.
		place := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`(() => {
			const n = document.querySelector(".account-nav").getBoundingClientRect(), s = document.querySelector(".account-sections").getBoundingClientRect();
			return n.right <= s.left ? "beside" : n.bottom <= s.top ? "above" : "overlapping"; })()`))
		if wantPlace := map[bool]string{false: "beside", true: "above"}[sc.phone]; place != wantPlace {
			t.Errorf("%s: the navigation is %s the sections, want %s", sc.name, place, wantPlace)
		}
		if w := browsertest.Get(t, b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
			t.Errorf("%s: My Account scrolls sideways by %.0f px", sc.name, w)
		}
		b.shot("nav-" + sc.name)
		for _, href := range got {
			id := strings.Fields(href)[0][1:]
			if sc.phone { // the list is at the top: go back to it
				b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			}
			b.do(chromedp.Click(chromedp.CSS(`.account-nav a[href="#` + id + `"]`)))
			browsertest.WaitTrue(t, b.ctx, "the link to #"+id+" to show its section at the top of the window (or the page's end)",
				`location.hash === "#`+id+`" && (() => { const r = document.getElementById("`+id+`").getBoundingClientRect();
				 const end = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1;
				 return r.top >= -1 && (r.top < 40 || (end && r.top < window.innerHeight - 40)); })()`)
		}
		if !sc.phone {
			// Sticky: the list stays in view at the page's end, and marks the section in view.
			b.inView(".account-nav", "the navigation after a jump")
			last := strings.Fields(got[len(got)-1])[0]
			browsertest.WaitTrue(t, b.ctx, "the link to the last section, jumped to at the page's end, to be aria-current", `(document.querySelector(".account-nav a[aria-current]") || {}).getAttribute?.("href") === "`+last+`"`)
			browsertest.ScreenshotWindow(t, b.ctx, "nav-jumped-"+sc.name)
		}
		// A deep link opens at its section.
		b.do(chromedp.Navigate(b.st.URL + "/account#password"))
		b.text("h1", "My Account")
		browsertest.WaitTrue(t, b.ctx, "/account#password to open at Password", `(() => { const r = document.getElementById("password").getBoundingClientRect(); return r.top >= -1 && r.top < 40; })()`)
		restore()
	}
}

// TestBrowserAccountPreferencesExample: the Example line of Preferences
// follows the MAC address format, 24-hour time and time zone as they are
// picked, before Save, formatted as the server formats them; nothing is
// saved until Save.
func TestBrowserAccountPreferencesExample(t *testing.T) {
	b := newAccountBrowser(t)
	const email, password = "fay@example.com", "first password 1"
	b.st.SignUp(t, email, password, "")
	b.login(email, password, false)
	b.text("h1", "Welcome")
	for _, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Navigate(b.st.URL + "/account#prefs"))
		b.text("h1", "My Account")
		now := b.st.Clock.Now()
		b.text("#prefs-example .mac", "5c:5b:35:0e:1f:a0")
		b.text("#prefs-example .time", format.Prefs{}.Time(now))

		b.do(chromedp.Click(chromedp.CSS(`input[name=mac_format][value="xxxx.xxxx.xxxx"]`)))
		b.text("#prefs-example .mac", "5c5b.350e.1fa0")
		b.do(chromedp.Click(chromedp.CSS(`input[name=mac_format][value="xx-xx-xx-xx-xx-xx"]`)))
		b.text("#prefs-example .mac", "5c-5b-35-0e-1f-a0")

		b.do(chromedp.Click(chromedp.CSS("#hour24")))
		b.text("#prefs-example .time", format.Prefs{Hour24: true}.Time(now))

		// Picking a zone in the list (the keyboard or the mouse fires change).
		b.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("timezone"); s.value = "Asia/Kolkata"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
		kolkata, err := time.LoadLocation("Asia/Kolkata")
		if err != nil {
			t.Fatal(err)
		}
		b.text("#prefs-example .time", format.Prefs{Hour24: true, Location: kolkata}.Time(now))
		b.do(chromedp.Click(chromedp.CSS("#hour24")))
		b.text("#prefs-example .time", format.Prefs{Location: kolkata}.Time(now))
		b.inView("#prefs-example", "the Example line")
		browsertest.ScreenshotWindow(t, b.ctx, "prefs-example-"+sc.name)

		// Not saved: a reload shows the saved preferences again.
		b.do(chromedp.Reload())
		b.text("#prefs-example .mac", "5c:5b:35:0e:1f:a0")
		b.text("#prefs-example .time", format.Prefs{}.Time(now))
		restore()
	}
}

// TestBrowserSkipToContent: the first Tab on a page reaches "Skip to
// content", shown in the window; following it, the next Tab is in the
// page's content, past the top bar.
func TestBrowserSkipToContent(t *testing.T) {
	b := newAccountBrowser(t)
	const email, password = "gus@example.com", "first password 1"
	b.st.SignUp(t, email, password, "Acme Networks")
	b.login(email, password, false)
	b.text(".topbar .orgname", "Acme Networks")
	for _, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Navigate(b.st.URL + "/account"))
		b.text("h1", "My Account")
		b.do(chromedp.KeyEvent(kb.Tab))
		browsertest.WaitTrue(t, b.ctx, "the first Tab to reach Skip to content", `document.activeElement.matches("a.skip-link[href='#main']")`)
		b.text("a.skip-link", "Skip to content")
		b.inView("a.skip-link", "Skip to content")
		browsertest.ScreenshotWindow(t, b.ctx, "skip-link-"+sc.name)
		b.do(chromedp.KeyEvent(kb.Enter))
		browsertest.WaitTrue(t, b.ctx, "Skip to content to lead to #main", `location.hash === "#main"`)
		b.do(chromedp.KeyEvent(kb.Tab))
		browsertest.WaitTrue(t, b.ctx, "the next Tab to be in the content", `document.querySelector("main").contains(document.activeElement)`)
		restore()
	}
}

// TestBrowserOrgConfirmationsInView: the organization's pages (Settings,
// Administrators, Sites) answer a save with the page from its top, where
// their confirmation is: in view on a wide screen and on a phone, after a
// Save at the bottom of a long form.
func TestBrowserOrgConfirmationsInView(t *testing.T) {
	b := newAccountBrowser(t)
	const email, password = "hal@example.com", "first password 1"
	b.st.SignUp(t, email, password, "Acme Networks")
	b.login(email, password, false)
	b.text(".topbar .orgname", "Acme Networks")
	orgURL := browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`document.querySelector(".topbar .orgname").href`))
	for i, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Navigate(orgURL + "/settings"))
		b.text("h1", "Settings")
		b.do(chromedp.ScrollIntoView(chromedp.CSS("form.policy button[type=submit]")), chromedp.Click(chromedp.CSS("form.policy button[type=submit]")))
		b.text(".flash.ok", "The password policy is saved.")
		b.inView(".flash.ok", "the confirmation of Settings")
		browsertest.ScreenshotWindow(t, b.ctx, "settings-saved-"+sc.name)

		b.do(chromedp.Navigate(orgURL+"/admins"), chromedp.WaitVisible(chromedp.CSS("#inv-email")))
		addr := fmt.Sprintf("new%d@example.com", i)
		b.do(chromedp.SendKeys(chromedp.CSS("#inv-email"), addr), chromedp.SendKeys(chromedp.CSS("#inv-first"), "New"),
			chromedp.SendKeys(chromedp.CSS("#inv-last"), "Person"), chromedp.SetValue(chromedp.CSS("#role"), "read"),
			chromedp.ScrollIntoView(chromedp.CSS(".invite-form button[type=submit]")), chromedp.Click(chromedp.CSS(".invite-form button[type=submit]")))
		b.text(".flash.ok", "Invitation sent to "+addr)
		b.inView(".flash.ok", "the confirmation of an invitation")
		browsertest.ScreenshotWindow(t, b.ctx, "invited-"+sc.name)

		b.do(chromedp.Navigate(orgURL), chromedp.WaitVisible(chromedp.CSS("#site-name")))
		site := "Site " + sc.name
		b.do(chromedp.SendKeys(chromedp.CSS("#site-name"), site), chromedp.Click(chromedp.CSS(`form[action$="/sites"] button[type=submit]`)))
		b.text(".flash.ok", "Site "+site+" created.")
		b.inView(".flash.ok", "the confirmation of a new site")
		restore()
	}
}
