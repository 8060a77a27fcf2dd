package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
)

// Browser tests of Organization → Administrators: a Super User invites a
// new user (who signs up from the mailed link) and an existing user (who
// logs in from it and accepts), then manages members and invitations.

const browserAdminPassword = "correct horse 8!"

// adminsSetup signs up ann (Super User of Acme, with sites HQ and Branch)
// through the API and returns her client, the organization and site ids.
func adminsSetup(b *accountBrowser) (ann *http.Client, org, hq, branch string) {
	b.t.Helper()
	ann = b.st.SignUp(b.t, "ann@example.com", browserAdminPassword, "Acme")
	r := b.st.Do(b.t, ann, "GET", "/api/v1/self", nil)
	org = r.JSON(b.t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)
	site := func(name string) string {
		r := b.st.Do(b.t, ann, "POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": name})
		if r.Status != 200 {
			b.t.Fatalf("create site %s: %d %s", name, r.Status, r.Body)
		}
		return r.JSON(b.t)["id"].(string)
	}
	return ann, org, site("HQ"), site("Branch")
}

// openAdmins opens Organization → Administrators from the left navigation.
func (b *accountBrowser) openAdmins() {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(`.sidenav a[href$="/admins"]`)), chromedp.Click(chromedp.CSS(`.sidenav a[href$="/admins"]`)))
	b.text("h1", "Administrators")
}

// logout logs out through the user menu.
func (b *accountBrowser) logout() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(".usermenu summary")), chromedp.WaitVisible(chromedp.CSS(`.usermenu form[action="/logout"] button`)),
		chromedp.Click(chromedp.CSS(`.usermenu form[action="/logout"] button`)))
	b.text(".flash.ok", "You have been logged out.")
}

// row waits for the Administrators table to show a row with want.
func (b *accountBrowser) row(want string) {
	b.t.Helper()
	b.text("table.admins tbody tr", want)
}

// TestBrowserInviteNewUser: the Super User invites an address without an
// account (after a refused attempt that keeps what was typed); the invitee
// signs up from the mailed link and lands in the organization.
func TestBrowserInviteNewUser(t *testing.T) {
	b := newAccountBrowser(t)
	_, org, hq, _ := adminsSetup(b)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	b.login("ann@example.com", browserAdminPassword, false)
	b.text("h1", "Acme")
	b.openAdmins()
	b.row("Test User ann@example.com (you) Active Super User Whole organization Manage")
	b.shot("admins")

	// Helpdesk without a site: refused, what was typed is kept.
	b.do(
		chromedp.SendKeys(css("#inv-email"), "bob@example.com"),
		chromedp.SendKeys(css("#inv-first"), "Bob"),
		chromedp.SendKeys(css("#inv-last"), "Jones"),
		chromedp.SetValue(css("#role"), "helpdesk"),
		chromedp.Click(css(".invite-form button[type=submit]")),
	)
	b.text(".flash.error", "Helpdesk (helpdesk) works on sites: choose at least one site")
	for sel, want := range map[string]string{"#inv-email": "bob@example.com", "#inv-first": "Bob", "#inv-last": "Jones", "#role": "helpdesk"} {
		if got := b.value(sel); got != want {
			t.Errorf("after the error %s = %q, want %q kept", sel, got, want)
		}
	}
	b.shot("invite-error")

	// With HQ ticked: sent.
	b.do(chromedp.Click(css(`input[name=site][value="`+hq+`"]`)), chromedp.Click(css(".invite-form button[type=submit]")))
	b.text(".flash.ok", "Invitation sent to bob@example.com as Helpdesk (HQ).")
	b.row("Bob Jones bob@example.com Invite Pending Helpdesk HQ Manage")
	b.shot("invited")
	b.noSidewaysScroll("admins")

	// Bob, with no account, opens the link: the sign-up page of the invitation.
	link := b.mailLink("bob@example.com", "/invite?token=")
	b.logout()
	b.do(chromedp.Navigate(link))
	b.text("h1", "Join Acme")
	b.text("main", "Test User invited you to join Acme as Helpdesk (HQ)")
	if got := b.value("#email"); got != "bob@example.com" {
		t.Errorf("email field = %q", got)
	}
	if ro := browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](`document.getElementById("email").readOnly`)); !ro {
		t.Error("the invited address can be edited")
	}
	if b.value("#first_name") != "Bob" || b.value("#last_name") != "Jones" {
		t.Errorf("names not pre-filled: %q %q", b.value("#first_name"), b.value("#last_name"))
	}
	b.shot("signup-from-invite")

	// Passwords that differ: refused, the names kept.
	b.replace("#first_name", "Robert")
	b.do(chromedp.SendKeys(css("#new_password"), browserAdminPassword), chromedp.SendKeys(css("#new_password_confirm"), "something else"),
		chromedp.Click(css(`form[action="/invite/signup"] button[type=submit]`)))
	b.text(".flash.error", "The new password and its confirmation do not match.")
	if got := b.value("#first_name"); got != "Robert" {
		t.Errorf("after the error the first name = %q, want Robert kept", got)
	}
	b.do(chromedp.SendKeys(css("#new_password"), browserAdminPassword), chromedp.SendKeys(css("#new_password_confirm"), browserAdminPassword))
	b.shot("signup-ready")
	b.do(chromedp.Click(css(`form[action="/invite/signup"] button[type=submit]`)))
	browsertest.WaitLocation(t, b.ctx, "the organization's page", func(u string) bool { return u == b.st.URL+"/orgs/"+org })
	b.text(".flash.ok", "Welcome to Portal, Robert! Your account is ready and you are now a member of Acme.")
	b.text("h1", "Acme")
	b.text(".pagehead", "Your role: Helpdesk")
	b.text("table.sites", "HQ")
	if n := browsertest.Get(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('.sidenav a[href$="/admins"]').length`)); n != 0 {
		t.Error("a Helpdesk member sees the Administrators link")
	}
	b.shot("joined")

	// No registration mail: the invitation verified the address.
	for _, m := range b.st.SMTP.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "bob@example.com") && m.Subject == subjectVerify {
			t.Error("bob got a verification mail")
		}
	}
	// The Administrators page is not his.
	b.do(chromedp.Navigate(b.st.URL + "/orgs/" + org + "/admins"))
	b.text("main", "Only a Super User of the organization can see and manage its administrators")
}

// TestBrowserInviteExistingUser: the invitee has an account: the link asks
// for a login, then Accept; the Super User then changes the member's role,
// re-sends and cancels an invitation, cannot demote herself as the last
// Super User, and revokes the member.
func TestBrowserInviteExistingUser(t *testing.T) {
	b := newAccountBrowser(t)
	_, org, hq, branch := adminsSetup(b)
	b.st.SignUp(t, "cat@example.com", browserAdminPassword, "")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	b.login("ann@example.com", browserAdminPassword, false)
	b.openAdmins()
	b.do(
		chromedp.SendKeys(css("#inv-email"), "cat@example.com"),
		chromedp.SendKeys(css("#inv-first"), "Cat"),
		chromedp.SendKeys(css("#inv-last"), "Stevens"),
		chromedp.SetValue(css("#role"), "read"),
		chromedp.Click(css(".invite-form button[type=submit]")),
	)
	b.text(".flash.ok", "Invitation sent to cat@example.com as Observer (the whole organization).")
	link := b.mailLink("cat@example.com", "/invite?token=")

	// A link opened by the wrong account says so and changes nothing.
	b.do(chromedp.Navigate(link))
	b.text("h1", "This invitation is for someone else")
	b.text(".flash.error", "is for cat@example.com, but you are logged in as ann@example.com")
	b.shot("wrong-account")

	// Cat logs in from the link and comes back to answer it.
	b.do(chromedp.Click(css(`main form[action="/logout"] button`)))
	b.text(".flash.ok", "You have been logged out.")
	b.do(chromedp.Navigate(link))
	browsertest.WaitLocation(t, b.ctx, "the login page", func(u string) bool { return strings.HasPrefix(u, b.st.URL+"/login?next=") })
	b.text(".flash.ok", "Log in as cat@example.com to answer the invitation to Acme.")
	if got := b.value("#email"); got != "cat@example.com" {
		t.Errorf("login email = %q, want the invited address", got)
	}
	b.shot("login-from-invite")
	b.login("cat@example.com", browserAdminPassword, true)
	b.text("h1", "Join Acme")
	b.text(".fields", "Observer")
	b.text(".fields", "Whole organization")
	b.shot("accept-or-decline")
	b.do(chromedp.Click(css(`form[action="/invite/accept"] button`)))
	browsertest.WaitLocation(t, b.ctx, "the organization's page", func(u string) bool { return u == b.st.URL+"/orgs/"+org })
	b.text(".flash.ok", "Welcome to Acme: you accepted the invitation and are now a member.")
	b.text(".topbar", "Acme")
	b.text(".pagehead", "Your role: Observer")
	b.shot("accepted")
	// The link is spent.
	b.do(chromedp.Navigate(link))
	b.text("h1", "Invitation already accepted")
	b.text(`main a[href="/orgs/`+org+`"]`, "Open the Organization")
	b.shot("already-accepted")
	b.logout()

	// Ann makes Cat a Network Admin of HQ and Branch.
	b.login("ann@example.com", browserAdminPassword, true)
	b.openAdmins()
	b.row("Test User cat@example.com Active Observer Whole organization") // her account's names, not the invitation's
	b.do(chromedp.Click(css(`a[aria-label="Manage cat@example.com"]`)))
	b.text("h1", "Manage Test User")
	b.shot("manage-member")
	b.do(chromedp.SetValue(css("#role"), "write"), chromedp.Click(css(`input[name=site][value="`+hq+`"]`)),
		chromedp.Click(css(`input[name=site][value="`+branch+`"]`)), chromedp.Click(css(`main form[action$="/admins/`+b.userID("cat@example.com")+`"] button`)))
	b.text(".flash.ok", "The role of cat@example.com is now Network Admin (Branch, HQ).")
	b.row("Test User cat@example.com Active Network Admin Branch, HQ")
	if m := b.waitSubject("cat@example.com", "Your role in Acme has changed"); !strings.Contains(m, "Network Admin") {
		t.Errorf("role mail:\n%s", m)
	}

	// The last Super User cannot demote herself: the page says the rule
	// first, and asks no confirmation for a change it will refuse; the
	// form keeps the choice.
	dialogs := browsertest.AnswerDialogs(t, b.ctx, true)
	b.do(chromedp.Click(css(`a[aria-label="Manage ann@example.com"]`)))
	b.text("#last-super-user", "You are the only Super User of Acme, and an organization always keeps at least one: make someone else a Super User before you change your role or leave.")
	b.do(chromedp.SetValue(css("#role"), "read"), chromedp.Click(css(`main form[action$="/admins/`+b.userID("ann@example.com")+`"] button`)))
	b.text(".flash.error", "Test User is the last Super User of Acme, and an organization always keeps at least one")
	select {
	case msg := <-dialogs:
		t.Errorf("a confirmation before a change that is refused: %q", msg)
	default:
	}
	if got := b.value("#role"); got != "read" {
		t.Errorf("after the error the role menu shows %q, want read kept", got)
	}
	b.text(".fields", "Super User")
	b.shot("last-super-user")

	// An invitation: re-send it, then cancel it (with a confirmation).
	b.openAdmins()
	b.do(
		chromedp.SendKeys(css("#inv-email"), "dan@example.com"),
		chromedp.SendKeys(css("#inv-first"), "Dan"),
		chromedp.SendKeys(css("#inv-last"), "Brown"),
		chromedp.SetValue(css("#role"), "installer"),
		chromedp.Click(css(`input[name=site][value="`+branch+`"]`)),
		chromedp.Click(css(".invite-form button[type=submit]")),
	)
	b.row("Dan Brown dan@example.com Invite Pending Installer Branch")
	b.do(chromedp.Click(css(`a[aria-label="Manage dan@example.com"]`)))
	b.text("h1", "Manage Dan Brown")
	b.text(".fields", "Invite Pending")
	b.shot("manage-invite")
	b.do(chromedp.Click(css(`form[action$="/reinvite"] button`)))
	b.text(".flash.ok", "Invitation sent again to dan@example.com. The previous link no longer works")
	b.do(chromedp.Click(css(`a[aria-label="Manage dan@example.com"]`)), chromedp.WaitVisible(css(`form[action$="/revoke"] button`)),
		chromedp.Click(css(`form[action$="/revoke"] button`)), chromedp.WaitVisible(css("#revoke-dialog")))
	b.text("#revoke-dialog h2", "Cancel the Invitation of dan@example.com?")
	b.do(chromedp.Click(css(`#revoke-dialog button[type=submit]`)))
	b.text(".flash.ok", "The invitation of dan@example.com is cancelled; its link no longer works.")

	// Revoke Cat (with a confirmation): her next request to Acme fails.
	b.do(chromedp.Click(css(`a[aria-label="Manage cat@example.com"]`)), chromedp.WaitVisible(css(`form[action$="/revoke"] button`)),
		chromedp.Click(css(`form[action$="/revoke"] button`)), chromedp.WaitVisible(css("#revoke-dialog")))
	b.text("#revoke-dialog h2", "Revoke the Access of cat@example.com?")
	b.do(chromedp.Click(css(`#revoke-dialog button[type=submit]`)))
	b.text(".flash.ok", "cat@example.com no longer has access to Acme.")
	select {
	case msg := <-dialogs:
		t.Errorf("the browser's own dialog opened: %q", msg)
	default:
	}
	b.text("table.admins tbody", "ann@example.com")
	if n := browsertest.Get(t, b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.admins tbody tr").length`)); n != 1 {
		t.Errorf("%d rows after revoking and cancelling, want 1", n)
	}
	b.shot("revoked")
	b.noSidewaysScroll("admins-after")
	b.waitSubject("cat@example.com", "Your access to Acme was removed")
}

// userID reads a user's id from the database.
func (b *accountBrowser) userID(email string) string {
	b.t.Helper()
	u, err := b.st.DB.GetUserByEmail(b.t.Context(), email)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.ID
}

// waitSubject waits for a mail to addr with the subject and returns its text.
func (b *accountBrowser) waitSubject(addr, subject string) string {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range b.st.SMTP.Messages() {
			if m.Subject == subject && strings.Contains(strings.ToLower(strings.Join(m.To, ",")), addr) {
				return m.Text
			}
		}
	}
	b.t.Fatalf("no mail %q to %s", subject, addr)
	return ""
}
