// Package oidctest runs OpenID Connect providers inside tests, in place of
// Google.
//
// Start runs a real provider: the OpenID Provider of
// github.com/zitadel/oidc/v3 (its op package, with the in-memory storage of
// that module's example server), with a sign-in page and a consent page of
// its own (e-mail, password, Next; then Allow), users the test defines and
// one registered client. Its authorization endpoint, code exchange (PKCE,
// single-use codes), ID tokens (RS256, nonce, email and email_verified
// claims) and keys are the library's. SignIn walks its pages over HTTP;
// browser tests use the pages themselves.
//
// StartMinting runs a small provider built on go-jose that issues the ID
// token a test asks for, flawed on purpose (another audience or issuer,
// expired, signed with another key, another nonce, an unverified
// address): only for the refusals that a correct provider never produces.
package oidctest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account at the provider.
type User struct {
	Subject       string // "sub"
	Email         string // signs in with this address
	Password      string
	EmailVerified bool
}

// Provider is a real OpenID provider running in the test.
type Provider struct {
	Server       *httptest.Server
	Issuer       string
	ClientID     string
	ClientSecret string

	mu      sync.Mutex
	users   map[string]*storage.User // by subject
	clients map[string]*storage.Client
	op      *op.Provider
	store   *storage.Storage
}

// Start runs a provider with users. Register Portal's redirect URI with
// RegisterRedirect before the first sign-in.
func Start(t testing.TB, users ...User) *Provider {
	t.Helper()
	p := &Provider{ClientID: "portal-test-client", ClientSecret: "portal-test-secret", users: map[string]*storage.User{}, clients: map[string]*storage.Client{}}
	for _, u := range users {
		p.AddUser(u)
	}
	p.Server = httptest.NewUnstartedServer(nil)
	p.Issuer = "http://" + p.Server.Listener.Addr().String()
	p.store = storage.NewStorageWithClients(userStore{p}, p.clients)
	cfg := &op.Config{
		CryptoKey:                sha256.Sum256([]byte(p.Issuer)),
		DefaultLogoutRedirectURI: "/",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedUILocales:       []language.Tag{language.English},
	}
	var err error
	p.op, err = op.NewProvider(cfg, opStorage{p.store}, op.StaticIssuer(p.Issuer), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/username", p.loginPage)
	mux.HandleFunc("POST /login/username", p.checkLogin)
	mux.HandleFunc("POST /login/consent", p.consent)
	mux.Handle("/", p.op)
	p.Server.Config.Handler = mux
	p.Server.Start()
	t.Cleanup(p.Server.Close)
	return p
}

// AddUser adds (or replaces) an account.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Subject] = &storage.User{ID: u.Subject, Username: u.Email, Password: u.Password, Email: u.Email,
		EmailVerified: u.EmailVerified, FirstName: "Test", LastName: "User", PreferredLanguage: language.English}
}

// RegisterRedirect registers Portal as the provider's client, with its
// redirect URI.
func (p *Provider) RegisterRedirect(redirectURI string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[p.ClientID] = storage.WebClient(p.ClientID, p.ClientSecret, redirectURI)
}

// userStore gives the example storage the test's users.
type userStore struct{ p *Provider }

func (s userStore) GetUserByID(id string) *storage.User {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.p.users[id]
}

func (s userStore) GetUserByUsername(name string) *storage.User {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for _, u := range s.p.users {
		if strings.EqualFold(u.Username, name) {
			return u
		}
	}
	return nil
}

func (userStore) ExampleClientID() string { return "service" }

// opStorage is the example storage whose clients ask for the e-mail claims
// in the ID token, as Google puts them there.
type opStorage struct{ *storage.Storage }

func (s opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return claimsInIDToken{c}, nil
}

type claimsInIDToken struct{ op.Client }

func (claimsInIDToken) IDTokenUserinfoClaimsAssertion() bool { return true }

var pages = template.Must(template.New("").Parse(`
{{define "top"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}} - Test Identity Provider</title></head>
<body style="font-family:sans-serif;max-width:360px;margin:60px auto"><p><strong>Test Identity Provider</strong></p><h1>{{.Title}}</h1>{{end}}
{{define "login"}}{{template "top" .}}
{{with .Error}}<p id="error" style="color:#b00">{{.}}</p>{{end}}
<form method="post" action="/login/username">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="email">Email</label><br><input id="email" name="email" type="email" autocomplete="username" value="{{.Email}}"></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button id="next" type="submit">Next</button></p>
</form></body></html>{{end}}
{{define "consent"}}{{template "top" .}}
<p>Portal wants to know your e-mail address and to sign you in as <strong>{{.Email}}</strong>.</p>
<form method="post" action="/login/consent">
<input type="hidden" name="id" value="{{.ID}}">
<button id="allow" name="allow" value="yes" type="submit">Allow</button>
<button id="cancel" name="allow" value="no" type="submit">Cancel</button>
</form></body></html>{{end}}`))

type pageData struct {
	Title, ID, Email, Error string
}

func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pages.ExecuteTemplate(w, "login", pageData{Title: "Sign in", ID: r.URL.Query().Get("authRequestID")})
}

func (p *Provider) checkLogin(w http.ResponseWriter, r *http.Request) {
	id, email := r.PostFormValue("id"), r.PostFormValue("email")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.store.CheckUsernamePassword(email, r.PostFormValue("password"), id); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		_ = pages.ExecuteTemplate(w, "login", pageData{Title: "Sign in", ID: id, Email: email, Error: "Wrong e-mail address or password."})
		return
	}
	_ = pages.ExecuteTemplate(w, "consent", pageData{Title: "Allow Portal?", ID: id, Email: email})
}

func (p *Provider) consent(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	if r.PostFormValue("allow") != "yes" {
		// Not done: the provider answers the client with an error.
		req, err := p.store.AuthRequestByID(r.Context(), id)
		if err != nil {
			http.Error(w, "unknown request", http.StatusBadRequest)
			return
		}
		u, _ := url.Parse(req.GetRedirectURI())
		q := u.Query()
		q.Set("error", "access_denied")
		q.Set("state", req.GetState())
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(op.ContextWithIssuer(r.Context(), p.Issuer), id), http.StatusFound)
}

// SignIn follows authURL as a browser would, signs in on the provider's
// page as email with password, allows, and returns the code and state that
// the provider sends to Portal's redirect URI (without calling Portal).
func (p *Provider) SignIn(t testing.TB, authURL, email, password string) (code, state string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res := get(t, c, authURL)
	for res.StatusCode == http.StatusFound || res.StatusCode == http.StatusSeeOther {
		loc, err := res.Location()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(loc.String(), p.Issuer) {
			t.Fatalf("the provider sent the browser to %s before the sign-in", loc)
		}
		res = get(t, c, loc.String())
	}
	id := formValue(t, res, "id")
	if id == "" {
		t.Fatalf("the provider's sign-in page has no request id (status %d)", res.StatusCode)
	}
	res = post(t, c, p.Issuer+"/login/username", url.Values{"id": {id}, "email": {email}, "password": {password}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("signing in at the provider as %s: status %d", email, res.StatusCode)
	}
	res = post(t, c, p.Issuer+"/login/consent", url.Values{"id": {id}, "allow": {"yes"}})
	for {
		loc, err := res.Location()
		if err != nil {
			t.Fatalf("the provider did not redirect after consent (status %d)", res.StatusCode)
		}
		if !strings.HasPrefix(loc.String(), p.Issuer) {
			q := loc.Query()
			if q.Get("code") == "" {
				t.Fatalf("the provider's answer has no code: %s", loc)
			}
			return q.Get("code"), q.Get("state")
		}
		res = get(t, c, loc.String())
	}
}

func get(t testing.TB, c *http.Client, u string) *http.Response {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func post(t testing.TB, c *http.Client, u string, f url.Values) *http.Response {
	t.Helper()
	res, err := c.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// formValue reads the value of the hidden input name from a page.
func formValue(t testing.TB, res *http.Response, name string) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf(`name="%s" value="`, name)
	s := string(b)
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	s = s[i+len(marker):]
	return s[:strings.IndexByte(s, '"')]
}
