package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/oidclogin"
	"portal/internal/server"
	"portal/internal/smtptest"
	"portal/internal/store"
)

// Stack is a running Portal: database, service, mail worker delivering to
// an in-process SMTP server, and the HTTP server.
type Stack struct {
	DB      *store.DB
	SMTP    *smtptest.Server
	Clock   *Clock
	Service *app.Service
	Worker  *mail.Worker
	Server  *httptest.Server
	URL     string
}

// NewStack starts a Portal on a fresh database of dialect d. Password
// hashing uses cheap argon2id parameters to keep tests fast.
func NewStack(t testing.TB, d store.Dialect) *Stack {
	t.Helper()
	return NewStackOn(t, OpenDB(t, d))
}

// NewStackOn starts a Portal on db, an open and migrated database the test
// made itself (say, through a proxy it can stop).
func NewStackOn(t testing.TB, db *store.DB) *Stack {
	t.Helper()
	return NewStackWith(t, db, StackOptions{})
}

// StackOptions change what NewStackWith starts.
type StackOptions struct {
	// Google, when set, turns on "Sign in with Google": it is called with
	// the stack's redirect URI and returns the provider's configuration
	// (an oidctest provider's issuer and client).
	Google func(redirectURL string) oidclogin.Config
	// Log, when set, receives Portal's log as JSON lines: one logger for
	// the service, the mail worker and the HTTP server, as portal serve
	// has (for a test of what is logged).
	Log io.Writer
	// Operators are the addresses of PORTAL_OPERATORS: operators of the
	// deployment, who read the survey's results.
	Operators []string
}

// NewStackWith is NewStackOn with options.
func NewStackWith(t testing.TB, db *store.DB, o StackOptions) *Stack {
	t.Helper()
	st := &Stack{DB: db, SMTP: smtptest.Start(t), Clock: NewClock(time.Now().UTC().Truncate(time.Second))}
	logger := slog.New(slog.DiscardHandler)
	switch {
	case o.Log != nil:
		logger = slog.New(slog.NewJSONHandler(o.Log, nil))
	case os.Getenv("PORTAL_TEST_LOG") != "":
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	sender, err := mail.NewSender(st.SMTP.URL(), "Portal <no-reply@localhost>", logger)
	if err != nil {
		t.Fatal(err)
	}
	st.Worker = mail.NewWorker(store.Outbox{DB: st.DB}, sender, logger, st.Clock.Now, mail.WorkerOptions{Interval: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.Worker.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	st.Server = httptest.NewUnstartedServer(nil)
	st.URL = "http://" + st.Server.Listener.Addr().String()
	key := make([]byte, authn.KeySize) // a random PORTAL_SECRET_KEY for TOTP secrets
	_, _ = rand.Read(key)
	box, err := authn.NewSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	var google *oidclogin.Provider
	if o.Google != nil {
		google = oidclogin.New(o.Google(st.URL + app.GoogleCallbackPath))
	}
	st.Service = app.New(app.Options{DB: st.DB, Hasher: authn.NewHasher(1024, 1, 1, 8), BaseURL: st.URL, Logger: logger,
		Now: st.Clock.Now, MailQueued: st.Worker.Wake, SecretBox: box, Google: google, Operators: o.Operators})
	h, err := server.NewServer(server.Options{Service: st.Service, Logger: logger, Ready: st.DB.Ready})
	if err != nil {
		t.Fatal(err)
	}
	st.Server.Config.Handler = h
	st.Server.Start()
	t.Cleanup(st.Server.Close)
	return st
}

// Client returns an HTTP client with its own cookie jar that does not
// follow redirects.
func (st *Stack) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Response is an API answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a JSON API request with c (body marshalled unless it is a
// string or []byte), adding X-CSRFToken from the client's csrftoken cookie
// as Mist clients do.
func (st *Stack) Do(t testing.TB, c *http.Client, method, path string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, st.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Jar != nil {
		u, _ := url.Parse(st.URL)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "csrftoken" {
				req.Header.Set("X-CSRFToken", ck.Value)
			}
		}
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// JSON decodes the body into a map (or fails the test).
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// SessionToken returns the sessionid cookie c holds for the stack, or "".
func (st *Stack) SessionToken(c *http.Client) string {
	u, _ := url.Parse(st.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "sessionid" {
			return ck.Value
		}
	}
	return ""
}

// SignUp registers and verifies a user through the API and the mailed
// link, and returns a logged-in client.
func (st *Stack) SignUp(t testing.TB, email, password, orgName string) *http.Client {
	t.Helper()
	c := st.Client()
	r := st.Do(t, c, "POST", "/api/v1/register", map[string]any{"email": email, "first_name": "Test", "last_name": "User", "password": password, "org_name": orgName})
	if r.Status != 200 {
		t.Fatalf("register %s: %d %s", email, r.Status, r.Body)
	}
	m := st.SMTP.WaitFor(t, func(m smtptest.Message) bool {
		return smtptest.To(email)(m) && smtptest.FindLink(m.Text, st.URL+"/verify/register?token=") != ""
	}, 10*time.Second)
	link := smtptest.FindLink(m.Text, st.URL+"/verify/register?token=")
	token := link[strings.Index(link, "token=")+len("token="):]
	if r := st.Do(t, c, "POST", "/api/v1/register/verify/"+token, nil); r.Status != 200 {
		t.Fatalf("verify %s: %d %s", email, r.Status, r.Body)
	}
	if r := st.Do(t, c, "POST", "/api/v1/login", map[string]any{"email": email, "password": password}); r.Status != 200 {
		t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	return c
}
