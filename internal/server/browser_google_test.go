package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"portal/internal/browsertest"
	"portal/internal/oidclogin"
	"portal/internal/oidctest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestGoogleSignInBrowser is procedure 6 as a user follows it, with a real
// OpenID provider in place of Google (its own sign-in and consent pages):
// My Account ▸ Social Sign In ▸ Enable Sign In With Google, Yes to the
// redirect, sign in at the provider and allow, back in Portal with the
// linked account shown; log out, Sign in with Google on the login page
// (and the TOTP code, two-factor authentication being on); then Unlink,
// which asks for the password.
func TestGoogleSignInBrowser(t *testing.T) {
	ctx := browsertest.New(t)
	p := oidctest.Start(t, gAnn, gShadow)
	st := testenv.NewStackWith(t, testenv.OpenDB(t, store.SQLite), testenv.StackOptions{Google: func(redirect string) oidclogin.Config {
		p.RegisterRedirect(redirect)
		return oidclogin.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Issuer: p.Issuer, RedirectURL: redirect}
	}})
	b := &accountBrowser{t: t, ctx: ctx, st: st}
	const (
		email   = "ann@example.com"
		orgName = "Acme Networks"
	)
	api := st.SignUp(t, email, googlePassword, orgName)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	providerSignIn := func(u oidctest.User) {
		t.Helper()
		b.text("h1", "Sign in")
		if loc := browsertest.Get(t, ctx, chromedp.Evaluate[string](`location.origin`)); loc != p.Issuer {
			t.Fatalf("the browser is at %s, not at the provider %s", loc, p.Issuer)
		}
		b.shot("provider-sign-in")
		b.do(chromedp.SendKeys(css("#email"), u.Email), chromedp.SendKeys(css("#password"), u.Password), chromedp.Click(css("#next")))
		b.text("h1", "Allow Portal?")
		b.shot("provider-consent")
		b.do(chromedp.Click(css("#allow")))
	}

	b.login(email, googlePassword, false)
	b.text("h1", orgName)
	b.openMyAccount()

	// 1. My Account ▸ Social Sign In: Enable Sign In With Google.
	b.text("#social h2", "Social Sign In")
	b.do(chromedp.ScrollIntoView(css("#social")))
	b.shot("social-section")
	b.do(chromedp.Click(css("#google-enable-button")))

	// 2. The message asks permission to go to Google: Yes.
	b.text("#google-confirm-message", "Portal sends you to Google")
	b.shot("social-confirm")
	b.do(chromedp.Click(css("#google-confirm-yes")))

	// 3. The provider's sign-in page: e-mail, password, Next; then Allow.
	providerSignIn(gAnn)

	// 4. Back in Portal: linked, and to which Google account.
	b.text("h1", "My Account")
	b.text("#social", "Your account is now linked to the Google account "+gAnn.Email)
	b.text("#google-email", gAnn.Email)
	b.do(chromedp.ScrollIntoView(css("#social")))
	b.shot("social-linked")
	b.noSidewaysScroll("social-linked")

	// Two-factor authentication on (through the API, as in its own test).
	e := &apiEnv{t: t, st: st}
	secret, _ := e.activate(api)

	// Log out; the login page offers Sign in with Google.
	b.do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(`.usermenu form[action="/logout"] button`)),
		chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
	b.text("#google-sign-in", "Sign in with Google")
	b.shot("login-page")
	b.do(chromedp.Click(css("#google-sign-in")))
	providerSignIn(gAnn)

	// The second factor is still asked.
	b.text("h1", "Two-factor authentication")
	st.Clock.Advance(30e9) // the next code: activating used this one
	code, err := totp.GenerateCode(secret, st.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.SendKeys(css("#two_factor"), code), chromedp.Click(css(`main form button[type=submit]`)))
	b.text("h1", orgName)
	b.shot("signed-in-with-google")

	// Unlink: the password is asked; a wrong one is refused in the section.
	b.openMyAccount()
	b.do(chromedp.ScrollIntoView(css("#social")))
	b.do(chromedp.SendKeys(css("#social-password"), "not my password"), chromedp.Click(css("#google-unlink-button")))
	b.text("#social", "The current password is not correct")
	b.text("#google-email", gAnn.Email)
	b.shot("unlink-wrong-password")
	b.do(chromedp.SendKeys(css("#social-password"), googlePassword), chromedp.Click(css("#google-unlink-button")))
	b.text("#social", "Your Google account is unlinked")
	b.text("#google-enable-button", "Enable Sign In With Google")
	b.shot("unlinked")

	// Signing in with that Google account now says how to link it.
	b.do(chromedp.Click(css(".usermenu summary")), chromedp.WaitVisible(css(`.usermenu form[action="/logout"] button`)),
		chromedp.Click(css(`.usermenu form[action="/logout"] button`)))
	b.do(chromedp.Click(css("#google-sign-in")))
	providerSignIn(gAnn)
	b.text("main", "is not linked to a Portal account")
	b.shot("unlinked-sign-in")
	if txt := browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(txt, gAnn.Email) {
		t.Errorf("the refusal does not say which Google account: %q", txt)
	}
}
