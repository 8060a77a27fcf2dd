package server_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"portal/internal/browsertest"
)

// TestBrowserHomeInvitations: an invitee without an organization finds the
// invitation on their home page, at desktop and phone sizes, and accepts it
// there. On a desktop an address of common length stays on one line in the
// members table, which stays inside the page.
func TestBrowserHomeInvitations(t *testing.T) {
	b := newAccountBrowser(t)
	ann, org, _, _ := adminsSetup(b)
	const cat = "catherine.stevens@example.com"
	b.st.SignUp(t, cat, browserAdminPassword, "")
	r := b.st.Do(t, ann, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": cat, "first_name": "Cat", "last_name": "Stevens", "privileges": orgPriv("read")})
	if r.Status != 200 {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	lines := func(sel string) int {
		t.Helper()
		// The lines of the first text of each match: its rectangles' distinct tops.
		return browsertest.Get(t, b.ctx, chromedp.Evaluate[int](`Math.max(...[...document.querySelectorAll(`+"`"+sel+"`"+`)].map((el) => { const r = document.createRange(); r.selectNodeContents(el.firstChild); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; }))`))
	}

	b.login("ann@example.com", browserAdminPassword, false)
	b.text("h1", "Acme")
	b.openAdmins()
	b.text("table.admins", cat)
	if n := lines(".admins td.email .addr"); n != 1 {
		t.Errorf("at %d px an address in the members table takes %d lines", browsertest.Width, n)
	}
	if w := browsertest.Get(t, b.ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
		t.Errorf("at %d px the members table pushes the page sideways by %.0f px", browsertest.Width, w)
	}
	b.shot("members-long-address")
	b.logout()

	b.login(cat, browserAdminPassword, false)
	b.text("h1", "Welcome")
	b.text("#invitations", "invited you to join Acme as Observer")
	b.shot("home-invitation")
	b.noSidewaysScroll("home-invitation") // and its screenshot at 390 px
	b.do(chromedp.Click(css(`#invitations button[aria-label="Accept the invitation to Acme"]`)))
	browsertest.WaitLocation(t, b.ctx, "the organization's page", func(u string) bool { return u == b.st.URL+"/orgs/"+org })
	b.text(".flash.ok", "Welcome to Acme: you accepted the invitation and are now a member.")
	b.text(".pagehead", "Your role: Observer")
}
