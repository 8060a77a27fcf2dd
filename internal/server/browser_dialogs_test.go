package server_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"portal"
	"portal/internal/browsertest"
	"portal/internal/smtptest"
)

// Browser tests of the questions asked before a destructive action
// (issue 13): each is the product's own dialog, never the browser's
// confirm(); Cancel changes nothing; the dialog's button does the action,
// and its confirmation shows inside the window.

// dialogBrowser is an accountBrowser that refuses the browser's own
// dialogs and remembers them, to fail the test at its end.
func newDialogBrowser(t *testing.T) *accountBrowser {
	b := newAccountBrowser(t)
	native := browsertest.AnswerDialogs(t, b.ctx, false)
	t.Cleanup(func() {
		for {
			select {
			case msg := <-native:
				t.Errorf("the browser's own dialog opened: %q", msg)
			default:
				return
			}
		}
	})
	// The desktop window is the 1366×900.
	if size := browsertest.Get(t, b.ctx, chromedp.Evaluate[[]int](`[window.innerWidth, window.innerHeight]`)); !slices.Equal(size, []int{browsertest.Width, browsertest.Height}) || browsertest.Width != 1366 || browsertest.Height != 900 {
		t.Errorf("the browser window is %v, want 1366×900", size)
	}
	return b
}

// dialogOpen is the JavaScript that says whether the dialog of id is open
// as a modal dialog.
func dialogOpen(id string) string {
	return `document.getElementById("` + id + `") && document.getElementById("` + id + `").matches("dialog[open]:modal")`
}

// askThenCancel clicks the button of opener at the desktop and the phone
// size, each time checks that it opens the dialog of id with title, wholly
// inside the window, takes a screenshot, and closes it with its Cancel
// button.
func (b *accountBrowser) askThenCancel(opener, id, title, shot string) {
	b.t.Helper()
	for _, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.Evaluate[chromedp.Void](`window.stayed = true`), chromedp.Click(chromedp.CSS(opener)))
		browsertest.WaitTrue(b.t, b.ctx, "the dialog "+id+" to open", dialogOpen(id))
		b.text("#"+id+" h2", title)
		b.inView("#"+id, "the dialog "+id+" at "+sc.name)
		browsertest.ScreenshotWindow(b.t, b.ctx, shot+"-"+sc.name)
		b.do(chromedp.Click(chromedp.CSS("#" + id + " button[data-close]")))
		browsertest.WaitTrue(b.t, b.ctx, "Cancel to close the dialog "+id, `!document.getElementById("`+id+`").open`)
		if !browsertest.Get(b.t, b.ctx, chromedp.Evaluate[bool](`window.stayed === true`)) {
			b.t.Errorf("Cancel in %s left the page", id)
		}
		restore()
	}
}

// askThenConfirm clicks opener, then the button of the dialog of id that
// does the action, and waits for the confirmation (sel showing want),
// which must be inside the window.
func (b *accountBrowser) askThenConfirm(opener, id, sel, want, shot string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(opener)))
	browsertest.WaitTrue(b.t, b.ctx, "the dialog "+id+" to open", dialogOpen(id))
	b.do(chromedp.Click(chromedp.CSS("#" + id + " button[type=submit]")))
	b.text(sel, want)
	b.inView(sel, "the confirmation after "+id)
	browsertest.ScreenshotWindow(b.t, b.ctx, shot)
}

// inviteLink waits for the invitation to org mailed to addr and returns
// its link.
func (b *accountBrowser) inviteLink(addr, org string) string {
	b.t.Helper()
	m := b.st.SMTP.WaitFor(b.t, func(m smtptest.Message) bool {
		return smtptest.To(addr)(m) && strings.Contains(m.Subject, "join "+org) && smtptest.FindLink(m.Text, b.st.URL+"/invite?token=") != ""
	}, 10*time.Second)
	return smtptest.FindLink(m.Text, b.st.URL+"/invite?token=")
}

// openInvites counts the open invitations addressed to addr.
func (b *accountBrowser) openInvites(addr string) int {
	b.t.Helper()
	list, err := b.st.DB.ListOpenInvitesFor(context.Background(), addr)
	if err != nil {
		b.t.Fatal(err)
	}
	return len(list)
}

// TestBrowserDialogsInvitations: declining an invitation, from the home
// page, from its link signed in, and from its link without an account.
func TestBrowserDialogsInvitations(t *testing.T) {
	b := newDialogBrowser(t)
	ann, acme, _, _ := adminsSetup(b)
	r := b.st.Do(t, ann, "POST", "/api/v1/orgs", map[string]any{"name": "Globex"})
	if r.Status != 200 {
		t.Fatalf("create Globex: %d %s", r.Status, r.Body)
	}
	globex := r.JSON(t)["id"].(string)
	const cat, eve = "cat@example.com", "eve@example.com"
	b.st.SignUp(t, cat, browserAdminPassword, "")
	for _, inv := range []struct{ org, addr string }{{acme, cat}, {globex, cat}, {acme, eve}} {
		if r := b.st.Do(t, ann, "POST", "/api/v1/orgs/"+inv.org+"/invites", map[string]any{"email": inv.addr, "first_name": "Test", "last_name": "User", "privileges": orgPriv("read")}); r.Status != 200 {
			t.Fatalf("invite %s: %d %s", inv.addr, r.Status, r.Body)
		}
	}

	// The home page lists both; Decline asks first.
	b.login(cat, browserAdminPassword, false)
	b.text("#invitations", "invited you to join Globex")
	// decline asks with opener to decline the invitation of addr to org
	// (one of open), cancels, then declines, which shows want in sel.
	decline := func(addr, org string, open int, opener, sel, want, shot string) {
		t.Helper()
		b.askThenCancel(opener, "decline-invite-dialog", "Decline the Invitation to "+org+"?", shot+"-dialog")
		if n := b.openInvites(addr); n != open {
			t.Fatalf("after Cancel %s has %d open invitations, want %d", addr, n, open)
		}
		b.askThenConfirm(opener, "decline-invite-dialog", sel, want, shot+"-declined")
		if n := b.openInvites(addr); n != open-1 {
			t.Errorf("after declining %s %s has %d open invitations, want %d", org, addr, n, open-1)
		}
	}
	decline(cat, "Globex", 2, `#invitations button[aria-label="Decline the invitation to Globex"]`, ".flash.ok", "You declined the invitation to Globex.", "home")
	b.text("#invitations", "invited you to join Acme")

	// The invitation's link, signed in.
	b.do(chromedp.Navigate(b.inviteLink(cat, "Acme")))
	b.text("h1", "Join Acme")
	decline(cat, "Acme", 1, `form[action="/invite/decline"] button[type=submit]`, ".flash.ok", "You declined the invitation to Acme.", "link")
	b.logout()

	// The link of an address without an account: the sign-up page.
	b.do(chromedp.Navigate(b.inviteLink(eve, "Acme")))
	b.text("h1", "Join Acme")
	decline(eve, "Acme", 1, `form.decline button[type=submit]`, "h1", "Invitation declined", "signup")
}

// TestBrowserDialogsManage: on a Manage page, cancelling an invitation,
// revoking a member, and a Super User changing their own role.
func TestBrowserDialogsManage(t *testing.T) {
	b := newDialogBrowser(t)
	ann, org, _, _ := adminsSetup(b)
	join := func(addr, role string) {
		t.Helper()
		c := b.st.SignUp(t, addr, browserAdminPassword, "")
		if r := b.st.Do(t, ann, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": addr, "first_name": "Test", "last_name": "User", "privileges": orgPriv(role)}); r.Status != 200 {
			t.Fatalf("invite %s: %d %s", addr, r.Status, r.Body)
		}
		link, err := url.Parse(b.inviteLink(addr, "Acme"))
		if err != nil {
			t.Fatal(err)
		}
		if r := b.st.Do(t, c, "POST", "/api/v1/invite/verify/"+link.Query().Get("token"), nil); r.Status != 200 {
			t.Fatalf("%s accepts: %d %s", addr, r.Status, r.Body)
		}
	}
	join("bob@example.com", "admin")
	join("carl@example.com", "read")
	if r := b.st.Do(t, ann, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": "dan@example.com", "first_name": "Dan", "last_name": "Brown", "privileges": orgPriv("read")}); r.Status != 200 {
		t.Fatalf("invite dan: %d %s", r.Status, r.Body)
	}
	role := func(addr string) string { // addr's role in Acme, "" for none
		t.Helper()
		members, err := b.st.DB.ListOrgMembers(context.Background(), org)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			if m.Email == addr {
				return m.Privileges[0].Role
			}
		}
		return ""
	}
	manage := func(addr, h1 string) {
		t.Helper()
		b.openAdmins()
		b.do(chromedp.Click(chromedp.CSS(`a[aria-label="Manage ` + addr + `"]`)))
		b.text("h1", h1)
	}

	b.login("ann@example.com", browserAdminPassword, false)
	b.text("h1", "Acme")

	// Cancel an invitation.
	manage("dan@example.com", "Manage Dan Brown")
	b.askThenCancel("#revoke-form button[type=submit]", "revoke-dialog", "Cancel the Invitation of dan@example.com?", "cancel-invitation-dialog")
	if _, err := b.st.DB.OpenInvite(context.Background(), org, "dan@example.com"); err != nil {
		t.Fatalf("after Keep invitation: %v", err)
	}
	b.askThenConfirm("#revoke-form button[type=submit]", "revoke-dialog", ".flash.ok", "The invitation of dan@example.com is cancelled; its link no longer works.", "invitation-cancelled")
	if _, err := b.st.DB.OpenInvite(context.Background(), org, "dan@example.com"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("the invitation after cancelling it: %v, want not found", err)
	}

	// Revoke a member.
	manage("carl@example.com", "Manage Test User")
	b.askThenCancel("#revoke-form button[type=submit]", "revoke-dialog", "Revoke the Access of carl@example.com?", "revoke-dialog")
	if got := role("carl@example.com"); got != "read" {
		t.Fatalf("after Cancel carl's role is %q, want read", got)
	}
	b.askThenConfirm("#revoke-form button[type=submit]", "revoke-dialog", ".flash.ok", "carl@example.com no longer has access to Acme.", "revoked")
	if got := role("carl@example.com"); got != "" {
		t.Errorf("after revoking carl still has the role %q", got)
	}

	// Her own role: the form keeps the choice while the dialog asks.
	manage("ann@example.com", "Manage Test User")
	b.do(chromedp.SetValue(chromedp.CSS("#role"), "read"))
	b.askThenCancel("#role-form button[type=submit]", "own-role-dialog", "Change Your Own Role?", "own-role-dialog")
	if got := role("ann@example.com"); got != "admin" {
		t.Fatalf("after Cancel ann's role is %q, want admin", got)
	}
	if got := b.value("#role"); got != "read" {
		t.Errorf("after Cancel the role menu shows %q, want read kept", got)
	}
	b.askThenConfirm("#role-form button[type=submit]", "own-role-dialog", ".flash.ok", "The role of ann@example.com is now Observer", "own-role-changed")
	if got := role("ann@example.com"); got != "read" {
		t.Errorf("after confirming ann's role is %q, want read", got)
	}
}

// TestBrowserDialogsAccount: deleting an API token, and making new
// recovery codes (which needs the password first).
func TestBrowserDialogsAccount(t *testing.T) {
	b := newDialogBrowser(t)
	const email, password = "kim@example.com", "correct horse 8!"
	api := b.st.SignUp(t, email, password, "Acme")
	for _, name := range []string{"alpha", "beta"} {
		if r := b.st.Do(t, api, "POST", "/api/v1/self/apitokens", map[string]any{"name": name}); r.Status != 200 {
			t.Fatalf("create token %s: %d %s", name, r.Status, r.Body)
		}
	}
	// Two-factor authentication on, through the API.
	if r := b.st.Do(t, api, "PUT", "/api/v1/self", map[string]any{"enable_two_factor": true}); r.Status != 200 {
		t.Fatalf("enable_two_factor: %d %s", r.Status, r.Body)
	}
	secret, _ := b.st.Do(t, api, "GET", "/api/v1/self/two_factor/token?by=qrcode", nil).JSON(t)["two_factor_secret"].(string)
	code := func() string {
		t.Helper()
		c, err := totp.GenerateCode(secret, b.st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r := b.st.Do(t, api, "POST", "/api/v1/self/two_factor/verify", map[string]any{"two_factor": code()})
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	var oldCodes []string
	for _, c := range r.JSON(t)["recovery_codes"].([]any) {
		oldCodes = append(oldCodes, c.(string))
	}
	b.st.Clock.Advance(30 * time.Second) // a new code (the one used to verify is spent)
	b.login(email, password, false)
	b.text("h1", "Two-factor authentication")
	b.do(chromedp.SendKeys(chromedp.CSS("#two_factor"), code()), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	b.text("h1", "Acme")

	tokens := func() []string {
		t.Helper()
		u, err := b.st.DB.GetUserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		list, err := b.st.DB.ListUserAPITokens(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tk := range list {
			names = append(names, tk.Name)
		}
		slices.Sort(names)
		return names
	}

	// Cancel on alpha, then delete beta: the dialog acts on the row asked about.
	b.do(chromedp.Navigate(b.st.URL + "/account#apitokens"))
	b.text("#apitokens td.tokenname", "beta")
	b.askThenCancel(`#apitokens button[aria-label="Delete API token alpha"]`, "delete-token-dialog", "Delete API Token alpha?", "delete-token-dialog")
	if got := tokens(); !slices.Equal(got, []string{"alpha", "beta"}) {
		t.Fatalf("after Cancel the tokens are %q", got)
	}
	b.askThenConfirm(`#apitokens button[aria-label="Delete API token beta"]`, "delete-token-dialog", "#apitokens .flash.ok", "Deleted API token beta: it no longer works.", "token-deleted")
	if got := tokens(); !slices.Equal(got, []string{"alpha"}) {
		t.Errorf("after deleting beta the tokens are %q, want alpha", got)
	}

	// New recovery codes: the password is asked before the question.
	b.do(chromedp.Navigate(b.st.URL + "/account/two_factor/recovery_codes"))
	b.text("#recovery-codes-left", "10 of 10")
	opener := "#new-codes-form button[type=submit]"
	b.do(chromedp.Click(chromedp.CSS(opener)))
	if browsertest.Get(t, b.ctx, chromedp.Evaluate[bool](dialogOpen("new-codes-dialog"))) {
		t.Error("the dialog opened without the password")
	}
	if f := b.focused(); f != "password" {
		t.Errorf("without the password the focus is on %q, want the password field", f)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#password"), password))
	b.askThenCancel(opener, "new-codes-dialog", "Make New Recovery Codes?", "new-codes-dialog")
	b.text("#recovery-codes-left", "10 of 10")
	b.askThenConfirm(opener, "new-codes-dialog", "h1", "Your new recovery codes", "new-codes")
	newCodes := strings.Fields(browsertest.Get(t, b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#recovery-codes code"), c => c.textContent).join(" ")`)))
	if len(newCodes) != 10 {
		t.Fatalf("%d new recovery codes, want 10", len(newCodes))
	}
	for _, c := range newCodes {
		if slices.Contains(oldCodes, c) {
			t.Errorf("new code %s is an old one", c)
		}
	}
}
