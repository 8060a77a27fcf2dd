package server_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portal/internal/browsertest"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBrowserFoundation is issue 2's GUI flow in a real browser: sign up,
// verify the e-mail through the mailed link, log in (after a wrong
// password), create an organization from the user menu (it opens in a new
// tab), add, rename and delete a site, and log out.
func TestBrowserFoundation(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStack(t, store.SQLite)
	const (
		email    = "ann.lee@example.com"
		password = "correct horse 9!"
		orgName  = "Acme Networks"
	)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do := func(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Do(t, ctx, steps...)
	}
	value := func(ctx context.Context, sel string) string {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Value(css(sel)))
	}

	// Sign up.
	do(ctx, chromedp.Navigate(st.URL+"/signup"), chromedp.WaitVisible(css("#email")))
	browsertest.WaitText(t, ctx, "h1", "Create your Portal account")
	do(ctx,
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#first_name"), "Ann"),
		chromedp.SendKeys(css("#last_name"), "Lee"),
		chromedp.SendKeys(css("#password"), password),
		chromedp.SendKeys(css("#password_confirm"), password),
	)
	browsertest.Screenshot(t, ctx, "signup")
	do(ctx, chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", "Check your email")
	browsertest.WaitText(t, ctx, "main", "We sent a link to "+email)
	browsertest.Screenshot(t, ctx, "check-mail")

	// The verification mail arrives over SMTP; open its link.
	m := st.SMTP.WaitFor(t, smtptest.To(email), 10*time.Second)
	link := smtptest.FindLink(m.Text, st.URL+"/verify/register?token=")
	if link == "" {
		t.Fatalf("no verification link in the mail %q:\n%s", m.Subject, m.Text)
	}
	do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "main button", "Verify my email address")
	browsertest.Screenshot(t, ctx, "verify")
	do(ctx, chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.ok", "Your email address "+email+" is verified. You can log in now.")
	browsertest.WaitText(t, ctx, "h1", "Log in")
	if got := value(ctx, "#email"); got != email {
		t.Errorf("login page after verification: email field = %q, want %q", got, email)
	}
	browsertest.Screenshot(t, ctx, "login")

	// A wrong password: a readable error, the e-mail kept, the password not.
	do(ctx, chromedp.SendKeys(css("#password"), "not my password"), chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, ".flash.error", "Invalid email or password.")
	if got := value(ctx, "#email"); got != email {
		t.Errorf("after a wrong password the email field = %q, want %q kept", got, email)
	}
	if got := value(ctx, "#password"); got != "" {
		t.Errorf("after a wrong password the password field still holds %q", got)
	}
	browsertest.Screenshot(t, ctx, "login-error")

	// Log in: the welcome page, no organization yet.
	do(ctx, chromedp.SendKeys(css("#password"), password), chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, ctx, "h1", "Welcome, Ann")
	browsertest.WaitText(t, ctx, "main", "You do not belong to any organization yet.")
	browsertest.Screenshot(t, ctx, "welcome")

	// The user menu sits at the far right of the top bar.
	openUserMenu := func(ctx context.Context) {
		t.Helper()
		do(ctx, chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(".usermenu > ul")))
	}
	right := browsertest.Get(t, ctx, chromedp.Evaluate[float64](`document.querySelector(".usermenu summary").getBoundingClientRect().right`))
	if right < browsertest.Width-40 {
		t.Errorf("user menu icon ends at x=%.0f; want it at the far right of a %d px window", right, browsertest.Width)
	}
	openUserMenu(ctx)
	browsertest.WaitText(t, ctx, ".usermenu > ul", "My Account")
	browsertest.WaitText(t, ctx, ".usermenu > ul", "Utilities")
	browsertest.Screenshot(t, ctx, "user-menu")

	// Utilities → Create Organization: the dialog; OK opens a new tab.
	do(ctx, chromedp.Click(css(`.usermenu a[href="/orgs/new"]`)), chromedp.WaitVisible(css("#create-org-dialog")))
	browsertest.WaitText(t, ctx, "#create-org-dialog h2", "Create Organization")
	if focused := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "dlg-org-name" {
		t.Errorf("the dialog opened with the focus on %q, want the name field", focused)
	}
	do(ctx, chromedp.SendKeys(css("#dlg-org-name"), orgName))
	browsertest.Screenshot(t, ctx, "dialog")
	firstTab := chromedp.FromContext(ctx).Target.TargetID
	waitTab := browsertest.ExpectNewTab(t, ctx)
	do(ctx, chromedp.Click(css(`#create-org-dialog button[type=submit]`)))
	tab := waitTab()

	orgURL := regexp.MustCompile(`^` + regexp.QuoteMeta(st.URL) + `/orgs/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	browsertest.WaitLocation(t, tab, "the new organization's page /orgs/<uuid>", orgURL.MatchString)
	browsertest.WaitText(t, tab, "h1", orgName)
	browsertest.WaitText(t, tab, ".flash.ok", "Organization "+orgName+" created.")
	browsertest.WaitText(t, tab, ".topbar .orgname", orgName)
	tabs := browsertest.Tabs(t, ctx)
	if !slices.ContainsFunc(tabs, func(i *target.Info) bool { return i.TargetID == firstTab }) {
		t.Fatalf("the original tab is gone after creating the organization; tabs: %v", tabURLs(tabs))
	}
	if len(tabs) != 2 {
		t.Errorf("want 2 tabs (the original and the new organization), got %v", tabURLs(tabs))
	}
	if loc := browsertest.Get(t, ctx, chromedp.Location()); loc != st.URL+"/" {
		t.Errorf("the original tab moved to %q; want it to stay on the welcome page", loc)
	}
	if open := browsertest.Get(t, ctx, chromedp.Evaluate[bool](`document.getElementById("create-org-dialog").open`)); open {
		t.Error("the Create Organization dialog is still open in the original tab")
	}
	browsertest.Screenshot(t, tab, "org-page")

	// In the new tab: add a site, its time zone from the same list as
	// My Account's Preferences; the list shows it.
	do(tab, chromedp.SendKeys(css("#site-name"), "HQ"), chromedp.SetValue(css("#site-tz"), "Europe/Paris"),
		chromedp.Click(css(`form[action$="/sites"] button[type=submit]`)))
	browsertest.WaitText(t, tab, ".flash.ok", "Site HQ created.")
	browsertest.WaitText(t, tab, "table.sites tbody td.sitename", "HQ")
	browsertest.WaitText(t, tab, "table.sites tbody td.sitetz", "Europe/Paris")
	browsertest.WaitText(t, tab, "#sites-title", "Sites (1)")
	if n := browsertest.Get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll("table.sites input").length`)); n != 0 {
		t.Errorf("the sites table has %d open input fields; want renaming on demand", n)
	}
	browsertest.Screenshot(t, tab, "site-added")

	// The organization page on a phone-sized screen.
	restore := browsertest.Phone(t, tab, browsertest.PhoneWidth, browsertest.PhoneHeight)
	if w := browsertest.Get(t, tab, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("at 390 px the organization page scrolls sideways by %.0f px", w)
	}
	browsertest.Screenshot(t, tab, "org-page-390px")
	do(tab, chromedp.Click(css(`button[aria-label="Rename HQ"]`)), chromedp.WaitVisible(css("#rename-site-dialog")))
	browsertest.Screenshot(t, tab, "site-rename-dialog-390px")
	do(tab, chromedp.Click(css(`#rename-site-dialog button[data-close]`)))
	browsertest.WaitTrue(t, tab, "Cancel to close the rename dialog", `!document.getElementById("rename-site-dialog").open`)
	openUserMenu(tab)
	browsertest.Screenshot(t, tab, "user-menu-390px")
	do(tab, chromedp.KeyEvent(kb.Escape))
	browsertest.WaitTrue(t, tab, "Escape to close the user menu", `!document.querySelector(".usermenu").open`)
	restore()
	if w := browsertest.Get(t, tab, chromedp.Evaluate[float64](`window.innerWidth`)); w < browsertest.Width-40 {
		t.Fatalf("after the phone emulation the window is %.0f px wide", w)
	}

	// Rename it in the product's dialog, opened on demand.
	do(tab, chromedp.Click(css(`button[aria-label="Rename HQ"]`)), chromedp.WaitVisible(css("#rename-site-dialog")))
	browsertest.WaitText(t, tab, "#rename-site-dialog h2", "Rename Site HQ")
	if got := value(tab, "#dlg-site-name"); got != "HQ" {
		t.Errorf("the rename dialog opened with %q, want the current name", got)
	}
	do(tab, chromedp.SetValue(css("#dlg-site-name"), "Headquarters"))
	browsertest.Screenshot(t, tab, "site-rename-dialog")
	do(tab, chromedp.Click(css(`#rename-site-dialog button[type=submit]`)))
	browsertest.WaitText(t, tab, ".flash.ok", "Site HQ renamed to Headquarters.")
	browsertest.WaitText(t, tab, "table.sites tbody td.sitename", "Headquarters")
	browsertest.Screenshot(t, tab, "site-renamed")

	// Delete it in the product's dialog, never the browser's.
	dialogs := browsertest.AnswerDialogs(t, tab, true)
	do(tab, chromedp.Click(css(`button[aria-label="Delete Headquarters"]`)), chromedp.WaitVisible(css("#delete-site-dialog")))
	browsertest.WaitText(t, tab, "#delete-site-dialog h2", "Delete Site Headquarters?")
	browsertest.Screenshot(t, tab, "site-delete-dialog")
	do(tab, chromedp.Click(css(`#delete-site-dialog button[type=submit]`)))
	browsertest.WaitText(t, tab, ".flash.ok", "Site Headquarters deleted.")
	browsertest.WaitText(t, tab, "main", "This organization has no sites yet.")
	select {
	case msg := <-dialogs:
		t.Errorf("the browser's own dialog opened: %q", msg)
	default:
	}
	browsertest.Screenshot(t, tab, "site-deleted")

	// A time zone the list does not offer (a forged form): a readable
	// error, what was typed kept.
	do(tab,
		chromedp.SendKeys(css("#site-name"), "Lab"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("site-tz"); s.add(new Option("Mars/Olympus", "Mars/Olympus")); s.value = "Mars/Olympus"; })()`),
		chromedp.Click(css(`form[action$="/sites"] button[type=submit]`)),
	)
	browsertest.WaitText(t, tab, ".flash.error", `Timezone "Mars/Olympus" is not a known IANA time zone`)
	if got := value(tab, "#site-name"); got != "Lab" {
		t.Errorf("after a rejected site the name field = %q, want %q kept", got, "Lab")
	}
	browsertest.Screenshot(t, tab, "site-error")

	// My Account from the user menu.
	openUserMenu(tab)
	do(tab, chromedp.Click(css(`.usermenu a[href="/account"]`)))
	browsertest.WaitText(t, tab, "h1", "My Account")
	browsertest.WaitText(t, tab, ".fields", email)
	browsertest.WaitText(t, tab, "main table", orgName+" Super User Whole organization")
	browsertest.Screenshot(t, tab, "my-account")

	// Log out through the user menu.
	openUserMenu(tab)
	do(tab, chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
	browsertest.WaitText(t, tab, ".flash.ok", "You have been logged out.")
	browsertest.WaitText(t, tab, "h1", "Log in")
	browsertest.Screenshot(t, tab, "logged-out")

	// The session is gone: My Account asks for a login again, and comes
	// back after it.
	do(tab, chromedp.Navigate(st.URL+"/account"))
	browsertest.WaitLocation(t, tab, "the login page", func(u string) bool { return strings.HasPrefix(u, st.URL+"/login?next=") })
	do(tab, chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password), chromedp.Click(css(`main form button[type=submit]`)))
	browsertest.WaitText(t, tab, "h1", "My Account")

	// The first tab still shows the page of the old session: its forms
	// are out of date, and say so in words a user understands.
	openUserMenu(ctx)
	do(ctx, chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
	browsertest.WaitText(t, ctx, ".flash.error", "This page is out of date")
	browsertest.Screenshot(t, ctx, "stale-page")
}

func tabURLs(tabs []*target.Info) []string {
	var s []string
	for _, i := range tabs {
		s = append(s, i.URL)
	}
	return s
}
