package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/oidclogin"
	"portal/internal/oidctest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Sign in with Google against OpenID providers running in the test
// (internal/oidctest): the real one (zitadel's op) for every flow, the
// minting one for ID tokens flawed on purpose.

func init() {
	for _, r := range []string{"GET /api/v1/self/oauth/{provider}", "POST /api/v1/self/oauth/{provider}",
		"GET /api/v1/login/oauth/{provider}", "POST /api/v1/login/oauth/{provider}", "DELETE /api/v1/login/oauth/{provider}"} {
		mistRoutes[r] = true
	}
}

const (
	googlePassword      = "correct horse google"
	subjectGoogleLinked = "A Google account was linked to your Portal account"
	subjectGoogleOff    = "Google sign-in is off for your Portal account"
)

// The provider's accounts.
var (
	gAnn     = oidctest.User{Subject: "google-sub-ann", Email: "ann.lee@gmail.example", Password: "ann at google", EmailVerified: true}
	gBob     = oidctest.User{Subject: "google-sub-bob", Email: "bob.roe@gmail.example", Password: "bob at google", EmailVerified: true}
	gShadow  = oidctest.User{Subject: "google-sub-shadow", Email: "ann@example.com", Password: "shadow at google", EmailVerified: true}
	gUnsure  = oidctest.User{Subject: "google-sub-unsure", Email: "unsure@gmail.example", Password: "unsure at google", EmailVerified: false}
	gAccount = []oidctest.User{gAnn, gBob, gShadow, gUnsure}
)

// googleEnv is a Portal whose Google sign-in is the provider p.
type googleEnv struct {
	*apiEnv
	p *oidctest.Provider
}

func newGoogleEnv(t *testing.T, spec *mistspec.Spec, d store.Dialect) *googleEnv {
	t.Helper()
	p := oidctest.Start(t, gAccount...)
	st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Google: func(redirect string) oidclogin.Config {
		p.RegisterRedirect(redirect)
		return oidclogin.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Issuer: p.Issuer, RedirectURL: redirect}
	}})
	return &googleEnv{apiEnv: &apiEnv{t: t, st: st, spec: spec}, p: p}
}

// newGoogleEnvAt is a Portal whose Google sign-in is at issuer, for
// clientID (the minting provider, or one that is down).
func newGoogleEnvAt(t *testing.T, spec *mistspec.Spec, d store.Dialect, issuer, clientID string, timeout time.Duration) *apiEnv {
	t.Helper()
	st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Google: func(redirect string) oidclogin.Config {
		return oidclogin.Config{ClientID: clientID, ClientSecret: "secret", Issuer: issuer, RedirectURL: redirect, Timeout: timeout}
	}})
	return &apiEnv{t: t, st: st, spec: spec}
}

// linkURL is GET /api/v1/self/oauth/google for c; it checks the URL's
// PKCE, state and nonce.
func (e *apiEnv) linkURL(c *http.Client) (string, bool) {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self/oauth/google", nil)
	e.want(r, 200, "GET /api/v1/self/oauth/google")
	m := r.JSON(e.t)
	u, _ := m["authorization_url"].(string)
	checkAuthURL(e.t, u)
	return u, m["linked"] == true
}

func checkAuthURL(t *testing.T, authURL string) {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || u.Host == "" {
		t.Fatalf("authorization_url %q", authURL)
	}
	q := u.Query()
	for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			t.Errorf("authorization_url: %s=%q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge", "client_id", "redirect_uri"} {
		if len(q.Get(k)) < 16 && k != "client_id" || q.Get(k) == "" {
			t.Errorf("authorization_url without a proper %s: %s", k, authURL)
		}
	}
	if !strings.Contains(q.Get("scope"), "openid") || !strings.Contains(q.Get("scope"), "email") {
		t.Errorf("authorization_url scope %q, want openid and email", q.Get("scope"))
	}
}

// link links c's account to the provider's account u, through the API.
func (e *googleEnv) link(c *http.Client, u oidctest.User) testenv.Response {
	e.t.Helper()
	authURL, _ := e.linkURL(c)
	code, state := e.p.SignIn(e.t, authURL, u.Email, u.Password)
	return e.do(c, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state})
}

// googleLogin signs in with the provider's account u through the API, with
// a new client, and returns it and Portal's answer.
func (e *googleEnv) googleLogin(u oidctest.User) (*http.Client, testenv.Response) {
	e.t.Helper()
	c := e.st.Client()
	r := e.do(c, "GET", "/api/v1/login/oauth/google", nil)
	e.want(r, 200, "GET /api/v1/login/oauth/google")
	m := r.JSON(e.t)
	if m["client_id"] != e.p.ClientID {
		e.t.Errorf("client_id %v, want %s", m["client_id"], e.p.ClientID)
	}
	authURL, _ := m["authorization_url"].(string)
	checkAuthURL(e.t, authURL)
	if e.cookie(c, "oauth_flow") == "" {
		e.t.Fatal("GET /api/v1/login/oauth/google set no oauth_flow cookie")
	}
	code, _ := e.p.SignIn(e.t, authURL, u.Email, u.Password)
	return c, e.do(c, "POST", "/api/v1/login/oauth/google", map[string]any{"code": code})
}

func (e *apiEnv) oauthGoogle(c *http.Client) bool {
	e.t.Helper()
	return e.self(c)["oauth_google"] == true
}

// TestGoogleLinkSignInUnlinkAPI is the whole procedure over the API, as a
// Mist client follows it: link, sign in with Google (with the TOTP code
// when two-factor authentication is on), unlink.
func TestGoogleLinkSignInUnlinkAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newGoogleEnv(t, spec, d)
		const email = "ann@example.com"
		ann := e.signUp(email, googlePassword, "Acme")
		if e.oauthGoogle(ann) {
			t.Fatal("oauth_google is true before any link")
		}
		if _, linked := e.linkURL(ann); linked {
			t.Fatal("linked is true before any link")
		}

		// Link: the provider's page, then the code back to Portal.
		r := e.link(ann, gAnn)
		e.want(r, 200, "link")
		if m := r.JSON(t); m["action"] != "oauth account linked" || m["id"] != gAnn.Subject || m["email"] != gAnn.Email {
			t.Errorf("link answer %s", r.Body)
		}
		if !e.oauthGoogle(ann) {
			t.Error("/self oauth_google is false after linking")
		}
		if _, linked := e.linkURL(ann); !linked {
			t.Error("GET /api/v1/self/oauth/google says linked false after linking")
		}
		e.waitMail(email, subjectGoogleLinked, 1)
		if !e.hasAudit(ann, "Linked a Google account") {
			t.Error("no audit entry for the link")
		}

		// Sign in with Google: a full session, as a password login gives.
		g, r := e.googleLogin(gAnn)
		e.want(r, 200, "Google login")
		if m := r.JSON(t); m["email"] != email || m["two_factor_required"] != false {
			t.Errorf("Google login answer %s", r.Body)
		}
		if e.self(g)["email"] != email {
			t.Error("the Google session is not Ann's")
		}
		if e.cookie(g, "oauth_flow") != "" {
			t.Error("the oauth_flow cookie stays after the sign-in")
		}
		if !e.hasAudit(ann, "Logged in with Google") {
			t.Error("no audit entry for the Google sign-in")
		}

		// With two-factor authentication, the Google sign-in owes the code.
		secret, _ := e.activate(ann)
		g, r = e.googleLogin(gAnn)
		e.want(r, 200, "Google login with 2FA")
		if m := r.JSON(t); m["two_factor_required"] != true || m["two_factor_passed"] != false {
			t.Fatalf("Google login of a 2FA account = %s, want two_factor_required", r.Body)
		}
		if r := e.do(g, "GET", "/api/v1/self/sessions", nil); r.Status != 403 && r.Status != 401 {
			t.Errorf("a Google session owing its code reads sessions: %d", r.Status)
		}
		e.st.Clock.Advance(30 * time.Second) // the next code: the activation used this one
		e.want(e.passCode(g, e.code(secret, 0)), 200, "second factor after Google")
		if e.self(g)["two_factor_passed"] != true {
			t.Error("two_factor_passed is not true after the code")
		}

		// Unlink with the password.
		e.want(e.do(ann, "DELETE", "/api/v1/login/oauth/google", map[string]any{"password": googlePassword}), 200, "unlink")
		if e.oauthGoogle(ann) {
			t.Error("oauth_google stays true after unlinking")
		}
		e.waitMail(email, subjectGoogleOff, 1)
		if !e.hasAudit(ann, "Unlinked the Google account") {
			t.Error("no audit entry for the unlink")
		}
		_, r = e.googleLogin(gAnn)
		e.want(r, 403, "Google login after unlinking")
	})
}

// TestGoogleUnlinkNeedsPassword: unlinking asks for the password (403
// without, 400 when wrong, nothing changed), and is refused to an account
// without a password, whose only way in Google would then be.
func TestGoogleUnlinkNeedsPassword(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newGoogleEnv(t, spec, d)
		ann := e.signUp("ann@example.com", googlePassword, "Acme")
		e.want(e.link(ann, gAnn), 200, "link")

		r := e.do(ann, "DELETE", "/api/v1/login/oauth/google", map[string]any{})
		e.want(r, 403, "unlink without password")
		if m := r.JSON(t); m["reauthentication_required"] != true || !strings.Contains(m["detail"].(string), "password") {
			t.Errorf("unlink without password: %s", r.Body)
		}
		e.want(e.do(ann, "DELETE", "/api/v1/login/oauth/google", nil), 403, "unlink without a body")
		r = e.do(ann, "DELETE", "/api/v1/login/oauth/google", map[string]any{"password": "not my password"})
		e.want(r, 400, "unlink with a wrong password")
		if !e.oauthGoogle(ann) {
			t.Fatal("a refused unlink removed the link")
		}

		// An account without a password keeps Google.
		if err := e.st.DB.Exec(t.Context(), `UPDATE users SET password_hash = '' WHERE email = 'ann@example.com'`); err != nil {
			t.Fatal(err)
		}
		r = e.do(ann, "DELETE", "/api/v1/login/oauth/google", map[string]any{"password": googlePassword})
		e.want(r, 403, "unlink of an account without a password")
		if !strings.Contains(e.detail(r), "no password") || !e.oauthGoogle(ann) {
			t.Errorf("unlink without any password: %s, linked %v", r.Body, e.oauthGoogle(ann))
		}
	})
}

// TestGoogleDisabledIs404: without PORTAL_GOOGLE_CLIENT_ID every path of
// it is 404 (signed in or not), and the GUI shows none of it.
func TestGoogleDisabledIs404(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", googlePassword, "Acme")
		anon := e.st.Client()
		for _, c := range []*http.Client{ann, anon} {
			for _, req := range []struct{ method, path string }{
				{"GET", "/api/v1/self/oauth/google?forward=/account"}, {"POST", "/api/v1/self/oauth/google"},
				{"GET", "/api/v1/login/oauth/google"}, {"POST", "/api/v1/login/oauth/google"}, {"DELETE", "/api/v1/login/oauth/google"},
			} {
				var body any
				if req.method != "GET" {
					body = map[string]any{"code": "abc", "password": googlePassword}
				}
				e.want(e.do(c, req.method, req.path, body), 404, req.method+" "+req.path)
			}
			for _, req := range []struct{ method, path string }{{"POST", "/login/google"}, {"GET", "/oauth/google/callback?code=a&state=b"}, {"POST", "/account/social/link"}} {
				if r := sendRaw(t, e.st, c, req.method, req.path, strings.NewReader(""), false, nil); r.Status != 404 {
					t.Errorf("%s %s: %d, want 404", req.method, req.path, r.Status)
				}
			}
		}
		if e.self(ann)["oauth_google"] != false {
			t.Error("oauth_google is not false")
		}
		if page := pageText(t, e.st, anon, "/login"); strings.Contains(page, "Google") {
			t.Error("the login page offers Google sign-in while it is off")
		}
		if page := pageText(t, e.st, ann, "/account"); strings.Contains(page, "Social Sign In") {
			t.Error("My Account shows Social Sign In while Google sign-in is off")
		}
	})
}

// TestGoogleNoOpenRedirect: forward and every redirect target stay on
// Portal.
func TestGoogleNoOpenRedirect(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newGoogleEnv(t, spec, d)
		ann := e.signUp("ann@example.com", googlePassword, "Acme")
		for _, bad := range []string{"https://evil.example/x", "//evil.example/x", "/\\evil.example", "http://evil.example" + "@" + strings.TrimPrefix(e.st.URL, "http://"),
			"javascript:alert(1)", strings.Replace(e.st.URL, "127.0.0.1", "localhost", 1) + "/account"} {
			for _, path := range []string{"/api/v1/self/oauth/google", "/api/v1/login/oauth/google"} {
				c := ann
				if strings.Contains(path, "login") {
					c = e.st.Client()
				}
				r := e.do(c, "GET", path+"?forward="+url.QueryEscape(bad), nil)
				e.want(r, 400, "forward "+bad)
				if !strings.Contains(e.detail(r), "page of this Portal") {
					t.Errorf("forward %s: %s", bad, r.Body)
				}
			}
		}
		// Portal's own page, as a path or as its absolute URL, is kept.
		for _, good := range []string{"/account#social", e.st.URL + "/account"} {
			e.want(e.do(ann, "GET", "/api/v1/self/oauth/google?forward="+url.QueryEscape(good), nil), 200, "forward "+good)
		}

		// The GUI: "Sign in with Google" with a next of another site comes
		// back to Portal's home page, never there.
		e.want(e.link(ann, gAnn), 200, "link")
		for next, want := range map[string]string{"https://evil.example/": "/", "//evil.example": "/", "/orgs/new": "/orgs/new"} {
			b := e.st.Client()
			res := googleForm(t, e.st, b, "/login/google", url.Values{"next": {next}})
			if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), e.p.Issuer) {
				t.Fatalf("POST /login/google: %d to %q, want 303 to the provider", res.Status, res.Header.Get("Location"))
			}
			code, state := e.p.SignIn(t, res.Header.Get("Location"), gAnn.Email, gAnn.Password)
			r := getPath(t, e.st, b, "/oauth/google/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("next %q: callback %d to %q, want %q", next, r.Status, r.Header.Get("Location"), want)
			}
		}
	})
}

// TestGoogleRefusals: each refusal has a clear message and changes
// nothing.
func TestGoogleRefusals(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		t.Run("state", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			bob := e.signUp("bob@example.com", googlePassword, "Bobs")
			authURL, _ := e.linkURL(ann)
			code, state := e.p.SignIn(t, authURL, gAnn.Email, gAnn.Password)
			// Another state, or Ann's state in Bob's session: unknown.
			r := e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": "not-the-state"})
			e.want(r, 400, "wrong state")
			wantDetail(t, r, "unknown, expired or already used")
			e.want(e.do(bob, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state}), 400, "another session's state")
			e.want(e.do(bob, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code}), 400, "no flow in this session")
			// The GUI's callback without a state, or with another's.
			for _, q := range []string{"code=" + url.QueryEscape(code), "code=" + url.QueryEscape(code) + "&state=forged"} {
				page := getPath(t, e.st, e.st.Client(), "/oauth/google/callback?"+q)
				if page.Status != 400 || !strings.Contains(string(page.Body), "unknown, expired or already used") {
					t.Errorf("callback %s: %d, want 400 with the message", q, page.Status)
				}
			}
			if e.oauthGoogle(ann) || e.oauthGoogle(bob) {
				t.Fatal("a refused state linked an account")
			}
			// Ann's flow was left alone by the others: it still links.
			e.want(e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state}), 200, "Ann's own flow")
		})

		t.Run("verifier under an unknown key", func(t *testing.T) {
			// A flow whose PKCE verifier was sealed under a key this
			// instance does not have (the secret key changed without the
			// old one in PORTAL_SECRET_KEY_PREVIOUS): start again, not 500.
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			authURL, _ := e.linkURL(ann)
			code, state := e.p.SignIn(t, authURL, gAnn.Email, gAnn.Password)
			key, _ := authn.NewToken()
			other, err := authn.NewSecretBox([]byte(key[:authn.KeySize]))
			if err != nil {
				t.Fatal(err)
			}
			sealed, _ := other.Seal([]byte("a verifier"))
			if err := e.st.DB.Exec(context.Background(), "UPDATE oauth_flows SET verifier = '"+sealed+"'"); err != nil {
				t.Fatal(err)
			}
			r := e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state})
			e.want(r, 400, "a flow whose verifier cannot be opened")
			wantDetail(t, r, "please start again")
			if e.oauthGoogle(ann) {
				t.Fatal("a flow whose verifier cannot be opened linked the account")
			}
		})

		t.Run("replayed code", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			authURL, _ := e.linkURL(ann)
			code, state := e.p.SignIn(t, authURL, gAnn.Email, gAnn.Password)
			e.want(e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state}), 200, "link")
			r := e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state})
			e.want(r, 400, "the same code again")
			// With a new flow of its own, the old code is refused by the
			// provider (single use; and it was bound to the other PKCE
			// verifier).
			e.linkURL(ann)
			r = e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code})
			e.want(r, 400, "an old code in a new flow")
			wantDetail(t, r, "refused")
			// Sign-in: the code of a successful sign-in, sent again.
			c := e.st.Client()
			m := e.do(c, "GET", "/api/v1/login/oauth/google", nil).JSON(t)
			code, _ = e.p.SignIn(t, m["authorization_url"].(string), gAnn.Email, gAnn.Password)
			e.want(e.do(c, "POST", "/api/v1/login/oauth/google", map[string]any{"code": code}), 200, "Google login")
			other := e.clientWith(map[string]string{})
			e.want(e.do(other, "POST", "/api/v1/login/oauth/google", map[string]any{"code": code}), 400, "the login code again, elsewhere")
			e.want(e.do(c, "POST", "/api/v1/login/oauth/google", map[string]any{"code": code}), 400, "the login code again")
		})

		t.Run("one code sent at once", func(t *testing.T) {
			// Of concurrent finishes of one flow, one links or signs in.
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			authURL, _ := e.linkURL(ann)
			code, state := e.p.SignIn(t, authURL, gAnn.Email, gAnn.Password)
			send := func(c *http.Client, path string, body map[string]any) func() int {
				return func() int { return e.do(c, "POST", path, body).Status }
			}
			link := send(ann, "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state})
			if _, won := race(t, "link", []int{400}, link, link, link, link); won != 1 {
				t.Errorf("%d concurrent links succeeded, want 1", won)
			}
			c := e.st.Client()
			m := e.do(c, "GET", "/api/v1/login/oauth/google", nil).JSON(t)
			code, _ = e.p.SignIn(t, m["authorization_url"].(string), gAnn.Email, gAnn.Password)
			login := send(c, "/api/v1/login/oauth/google", map[string]any{"code": code})
			if _, won := race(t, "Google sign-in", []int{400}, login, login, login, login); won != 1 {
				t.Errorf("%d concurrent sign-ins succeeded, want 1", won)
			}
		})

		t.Run("minted tokens", func(t *testing.T) {
			m := oidctest.StartMinting(t, "portal-test-client")
			e := newGoogleEnvAt(t, spec, d, m.Issuer, "portal-test-client", 0)
			const email = "ann@example.com"
			ann := e.signUp(email, googlePassword, "Acme")
			for flaw, want := range map[string]string{
				oidctest.FlawAudience:      "wrong audience",
				oidctest.FlawIssuer:        "wrong issuer",
				oidctest.FlawExpired:       "expired",
				oidctest.FlawSignature:     "signature",
				oidctest.FlawNonce:         "nonce",
				oidctest.FlawEmailVerified: "not verified the account's email address",
			} {
				m.SetFlaw(flaw)
				authURL, _ := e.linkURL(ann)
				code, state := m.Authorize(t, authURL)
				r := e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state})
				e.want(r, 400, "link with a token flawed by "+flaw)
				wantDetail(t, r, want)
				// Sign-in too.
				c := e.st.Client()
				lr := e.do(c, "GET", "/api/v1/login/oauth/google", nil)
				e.want(lr, 200, "login URL")
				code, _ = m.Authorize(t, lr.JSON(t)["authorization_url"].(string))
				r = e.do(c, "POST", "/api/v1/login/oauth/google", map[string]any{"code": code})
				e.want(r, 400, "login with a token flawed by "+flaw)
				wantDetail(t, r, want)
				if e.cookie(c, "sessionid") != "" {
					t.Errorf("%s: a refused sign-in set a session cookie", flaw)
				}
			}
			if e.oauthGoogle(ann) {
				t.Fatal("a flawed token linked the account")
			}
			if n := len(e.mailsTo(email)); n != 1 {
				t.Errorf("refusals mailed: %d mails, want the verification only", n)
			}
			// The same provider without a flaw links: the refusals were the flaws.
			m.SetFlaw(oidctest.FlawNone)
			authURL, _ := e.linkURL(ann)
			code, state := m.Authorize(t, authURL)
			e.want(e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code, "state": state}), 200, "link with a sound token")
		})

		t.Run("discovery names another issuer", func(t *testing.T) {
			m := oidctest.StartMinting(t, "portal-test-client")
			m.SetFlaw(oidctest.FlawDiscoveryIssuer)
			e := newGoogleEnvAt(t, spec, d, m.Issuer, "portal-test-client", 0)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			r := e.st.Do(t, ann, "GET", "/api/v1/self/oauth/google", nil)
			e.want(r, 503, "link URL from a provider whose discovery names another issuer")
			if r.JSON(t)["provider_unavailable"] != true {
				t.Errorf("refusal: %s", r.Body)
			}
		})

		t.Run("email not verified by the provider", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			r := e.link(ann, gUnsure)
			e.want(r, 400, "link of an unverified Google address")
			wantDetail(t, r, "not verified")
			if e.oauthGoogle(ann) {
				t.Error("linked")
			}
		})

		t.Run("linked elsewhere", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			bob := e.signUp("bob@example.com", googlePassword, "Bobs")
			e.want(e.link(ann, gAnn), 200, "Ann links")
			r := e.link(bob, gAnn)
			e.want(r, 400, "Bob links Ann's Google account")
			wantDetail(t, r, "already linked to another Portal account")
			if e.oauthGoogle(bob) {
				t.Error("Bob is linked")
			}
			// And one Google account per Portal account.
			r = e.link(ann, gBob)
			e.want(r, 400, "Ann links a second Google account")
			wantDetail(t, r, "unlink it first")
			g, r := e.googleLogin(gAnn)
			e.want(r, 200, "Ann's Google still signs Ann in")
			if e.self(g)["email"] != "ann@example.com" {
				t.Error("the Google sign-in is not Ann's")
			}
		})

		t.Run("unlinked login", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			e.signUp("ann@example.com", googlePassword, "Acme")
			// A Google account with Ann's very address is not Ann: never
			// linked by e-mail.
			for _, u := range []oidctest.User{gShadow, gBob} {
				c, r := e.googleLogin(u)
				e.want(r, 403, "Google login of an unlinked account "+u.Email)
				if m := r.JSON(t); m["oauth_not_linked"] != true || !strings.Contains(m["detail"].(string), "not linked to a Portal account") {
					t.Errorf("unlinked login: %s", r.Body)
				}
				if e.cookie(c, "sessionid") != "" {
					t.Error("an unlinked Google account got a session cookie")
				}
			}
			// The GUI says it on the login page.
			b := e.st.Client()
			res := googleForm(t, e.st, b, "/login/google", nil)
			code, state := e.p.SignIn(t, res.Header.Get("Location"), gShadow.Email, gShadow.Password)
			page := getPath(t, e.st, b, "/oauth/google/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state))
			if page.Status != 403 || !strings.Contains(string(page.Body), "is not linked to a Portal account") {
				t.Errorf("GUI unlinked login: %d %s", page.Status, firstLine(string(page.Body), "linked"))
			}
		})

		t.Run("too many sign-ins started", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			for i := range 60 {
				e.want(e.do(e.st.Client(), "GET", "/api/v1/login/oauth/google", nil), 200, fmt.Sprintf("start %d", i+1))
			}
			r := e.do(e.st.Client(), "GET", "/api/v1/login/oauth/google", nil)
			e.want(r, 429, "the 61st start within the hour")
			if r.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			e.st.Clock.Advance(time.Hour + time.Second)
			e.want(e.do(e.st.Client(), "GET", "/api/v1/login/oauth/google", nil), 200, "a start after the lock")
		})

		t.Run("API token", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			_, key := e.tokenCreate(ann, "script")
			for _, req := range []struct {
				method string
				body   any
			}{{"GET", nil}, {"POST", map[string]any{"code": "abc"}}} {
				r := e.tok(key, req.method, "/api/v1/self/oauth/google", req.body)
				e.want(r, 403, "an API token links, "+req.method)
				if r.JSON(t)["session_required"] != true {
					t.Errorf("%s with a token: %s", req.method, r.Body)
				}
			}
		})

		t.Run("flow started through the API", func(t *testing.T) {
			// The provider sends the browser to Portal's callback, which
			// shows the code for the API client; the client finishes.
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			authURL, _ := e.linkURL(ann)
			code, state := e.p.SignIn(t, authURL, gAnn.Email, gAnn.Password)
			page := getPath(t, e.st, e.st.Client(), "/oauth/google/callback?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(state))
			if page.Status != 200 || !strings.Contains(string(page.Body), code) {
				t.Fatalf("callback of an API flow: %d %s", page.Status, firstLine(string(page.Body), "code"))
			}
			if e.oauthGoogle(ann) {
				t.Fatal("the callback page linked by itself")
			}
			e.want(e.do(ann, "POST", "/api/v1/self/oauth/google", map[string]any{"code": code}), 200, "link with the code shown")
		})

		t.Run("link needs a recent login", func(t *testing.T) {
			e := newGoogleEnv(t, spec, d)
			ann := e.signUp("ann@example.com", googlePassword, "Acme")
			e.st.Clock.Advance(11 * time.Minute)
			r := e.do(ann, "GET", "/api/v1/self/oauth/google", nil)
			e.want(r, 403, "link URL long after the login")
			if r.JSON(t)["reauthentication_required"] != true {
				t.Errorf("no reauthentication_required: %s", r.Body)
			}
			// The GUI's Yes asks for the password then, and goes on with it.
			page := postForm(t, e.st, ann, "/account/social/link", nil)
			if page.Status != 403 || !strings.Contains(string(page.Body), "give your current password") {
				t.Errorf("GUI link long after the login: %d", page.Status)
			}
			page = postForm(t, e.st, ann, "/account/social/link", url.Values{"password": {"not my password"}})
			if page.Status != 400 {
				t.Errorf("GUI link with a wrong password: %d", page.Status)
			}
			page = postForm(t, e.st, ann, "/account/social/link", url.Values{"password": {googlePassword}})
			if page.Status != http.StatusSeeOther || !strings.HasPrefix(page.Header.Get("Location"), e.p.Issuer) {
				t.Errorf("GUI link with the password: %d to %q, want the provider", page.Status, page.Header.Get("Location"))
			}
		})

		t.Run("provider down", func(t *testing.T) {
			// Nothing listens at the issuer; and an issuer that accepts
			// connections but never answers (bounded by the timeout).
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			closed := "http://" + ln.Addr().String()
			ln.Close()
			silent, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { silent.Close() })
			for name, issuer := range map[string]string{"refused": closed, "silent": "http://" + silent.Addr().String()} {
				e := newGoogleEnvAt(t, spec, d, issuer, "portal-test-client", time.Second)
				ann := e.signUp("ann@example.com", googlePassword, "Acme")
				for _, c := range []*http.Client{ann, e.st.Client()} {
					path := "/api/v1/login/oauth/google"
					if c == ann {
						path = "/api/v1/self/oauth/google"
					}
					r := e.st.Do(t, c, "GET", path, nil) // 503: not the answer e.do expects of Portal
					e.want(r, 503, name+": "+path)
					if m := r.JSON(t); m["provider_unavailable"] != true || !strings.Contains(m["detail"].(string), "Google cannot be reached") || r.Header.Get("Retry-After") == "" {
						t.Errorf("%s: %s: %s", name, path, r.Body)
					}
				}
				page := googleForm(t, e.st, e.st.Client(), "/login/google", nil)
				if page.Status != 503 || !strings.Contains(string(page.Body), "Google cannot be reached") {
					t.Errorf("%s: GUI: %d", name, page.Status)
				}
				page = postForm(t, e.st, ann, "/account/social/link", nil)
				if page.Status != 503 || !strings.Contains(string(page.Body), "Google cannot be reached") {
					t.Errorf("%s: GUI link: %d", name, page.Status)
				}
				// Password login still works.
				_, r := e.login("ann@example.com", googlePassword)
				e.want(r, 200, "password login while Google is down")
			}
		})
	})
}

func wantDetail(t *testing.T, r testenv.Response, want string) {
	t.Helper()
	if d, _ := r.JSON(t)["detail"].(string); !strings.Contains(d, want) {
		t.Errorf("detail %q, want it to say %q", d, want)
	}
}

// googleForm posts a form (no CSRF token: the public forms need none) and
// returns the answer unfollowed.
func googleForm(t *testing.T, st *testenv.Stack, c *http.Client, path string, f url.Values) testenv.Response {
	t.Helper()
	return sendRaw(t, st, c, "POST", path, strings.NewReader(f.Encode()), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func getPath(t *testing.T, st *testenv.Stack, c *http.Client, path string) testenv.Response {
	t.Helper()
	return sendRaw(t, st, c, "GET", path, nil, false, nil)
}
