package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// operatorSetup is a migrated database of one dialect with one user, and
// the variables that point run at it.
type operatorSetup struct {
	vars  map[string]string
	db    *store.DB // opened by the test, beside the Portals it starts
	email string
	pw    string
	user  *portal.User
}

// newOperatorSetup migrates a fresh database of dialect d with `portal
// migrate` and stores the user ann@example.com in it.
func newOperatorSetup(t *testing.T, d store.Dialect) *operatorSetup {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"PORTAL_DATA_DIR": dir, "PORTAL_SHUTDOWN_DRAIN": "0"}
	dbURL := filepath.Join(dir, "portal.db")
	if d == store.Postgres {
		dbURL = testenv.PostgresURL(t)
		vars["PORTAL_DATABASE_URL"] = dbURL
		vars["PORTAL_SECRET_KEY"] = strings.Repeat("ab", authn.KeySize)
	}
	if err, _, stderr := runCmd(t, []string{"migrate"}, vars); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stderr)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := &operatorSetup{vars: vars, db: db, email: "ann@example.com", pw: "Tangerine-Kayak-71"}
	hash, err := authn.NewHasher(64, 1, 1, 2).Hash(ctx, o.pw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o.user = &portal.User{ID: uuid.NewString(), Email: o.email, FirstName: "Ann", LastName: "Lee", PasswordHash: hash, EmailVerified: true,
		PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, o.user) }); err != nil {
		t.Fatal(err)
	}
	return o
}

// serve starts `portal serve` on the setup's database and returns its
// base URL; it is stopped at the end of the test.
func (o *operatorSetup) serve(t *testing.T) string {
	t.Helper()
	vars := map[string]string{}
	for k, v := range o.vars {
		vars[k] = v
	}
	addr := freeAddr(t)
	vars["PORTAL_ADDR"] = addr
	return startServe(t, vars, "http://"+addr)
}

// startServe runs `portal serve` with vars until the end of the test and
// waits until base answers /healthz.
func startServe(t *testing.T, vars map[string]string, base string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr.String())
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}
	waitServing(t, done, &stdout, &stderr, answersOK(client, base+"/healthz"))
	return base
}

// call makes one real HTTP request: JSON body in (nil: none), status and
// decoded JSON out. auth is a session (its cookies and CSRF header) or
// "Token <key>".
func call(t *testing.T, method, url string, body any, auth *apiAuth) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth.set(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	out["_raw"] = string(raw)
	if auth != nil && auth.session != "" {
		for _, c := range res.Cookies() {
			if c.Name == "sessionid" && c.Value != "" && c.MaxAge >= 0 {
				auth.session = c.Value
			}
		}
	}
	return res.StatusCode, out
}

// apiAuth is how a request authenticates: a session or an API token.
type apiAuth struct {
	session, csrf string
	token         string
}

func (a *apiAuth) set(req *http.Request) {
	switch {
	case a == nil:
	case a.token != "":
		req.Header.Set("Authorization", "Token "+a.token)
	case a.session != "":
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: a.session})
		req.AddCookie(&http.Cookie{Name: "csrftoken", Value: a.csrf})
		req.Header.Set("X-CSRFToken", a.csrf)
	}
}

// login logs in through the API and returns the session, or the refusal.
func login(t *testing.T, base, email, password string) (*apiAuth, int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != http.StatusOK {
		return nil, res.StatusCode, out
	}
	a := &apiAuth{}
	for _, c := range res.Cookies() {
		switch c.Name {
		case "sessionid":
			a.session = c.Value
		case "csrftoken":
			a.csrf = c.Value
		}
	}
	if a.session == "" || a.csrf == "" {
		t.Fatalf("login set no session cookies: %v", res.Cookies())
	}
	return a, res.StatusCode, out
}

// mustLogin logs in and fails the test if that is refused.
func mustLogin(t *testing.T, base, email, password string) *apiAuth {
	t.Helper()
	a, code, out := login(t, base, email, password)
	if a == nil {
		t.Fatalf("login: %d %v", code, out)
	}
	return a
}

// newToken makes an API token in the session and returns it.
func newToken(t *testing.T, base string, session *apiAuth) *apiAuth {
	t.Helper()
	code, out := call(t, "POST", base+"/api/v1/self/apitokens", map[string]any{"name": "collector"}, session)
	key, _ := out["key"].(string)
	if code != http.StatusOK || key == "" {
		t.Fatalf("create API token: %d %v", code, out)
	}
	return &apiAuth{token: key}
}

// selfStatus is the status of GET /api/v1/self with auth.
func selfStatus(t *testing.T, base string, auth *apiAuth) (int, string) {
	t.Helper()
	code, out := call(t, "GET", base+"/api/v1/self", nil, auth)
	detail, _ := out["detail"].(string)
	return code, detail
}

// auditMessages lists the messages of the user's audit log.
func auditMessages(t *testing.T, base string, session *apiAuth) string {
	t.Helper()
	code, out := call(t, "GET", base+"/api/v1/self/logs", nil, session)
	if code != http.StatusOK {
		t.Fatalf("self logs: %d %v", code, out)
	}
	var msgs []string
	results, _ := out["results"].([]any)
	for _, r := range results {
		m, _ := r.(map[string]any)
		s, _ := m["message"].(string)
		msgs = append(msgs, s)
	}
	return strings.Join(msgs, "\n")
}

// TestOperatorDisableUser: `portal user disable EMAIL`, run while two
// Portals serve the database, refuses the user's session and API token on
// the next request to either, and refuses login (API and GUI) and a
// recovery link with the clear message, deleting nothing but the sessions
// and tokens. `portal user enable` lets the user log in again; the revoked
// token stays revoked. Both are in the user's audit log. An unknown
// address is an error that says so.
func TestOperatorDisableUser(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			o := newOperatorSetup(t, d)
			one, two := o.serve(t), o.serve(t)
			session := mustLogin(t, one, o.email, o.pw)
			token := newToken(t, one, session)
			for _, base := range []string{one, two} {
				for _, auth := range []*apiAuth{session, token} {
					if code, detail := selfStatus(t, base, auth); code != http.StatusOK {
						t.Fatalf("before disabling: GET /api/v1/self = %d %s", code, detail)
					}
				}
			}
			// A recovery link mailed before the account was disabled.
			link, err := authn.NewToken()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			now := time.Now()
			err = o.db.Write(ctx, func(tx *store.Tx) error {
				return tx.CreateEmailToken(ctx, &store.EmailToken{ID: uuid.NewString(), TokenHash: authn.HashToken(link), UserID: o.user.ID,
					Purpose: "recover", Email: o.email, Created: now, Expires: now.Add(time.Hour)})
			})
			if err != nil {
				t.Fatal(err)
			}

			err, out, stderr := runCmd(t, []string{"user", "disable", "Ann@Example.com"}, o.vars)
			if err != nil {
				t.Fatalf("portal user disable: %v\n%s", err, stderr)
			}
			if want := "disabled ann@example.com: 1 session ended, 1 API token revoked"; !strings.Contains(out, want) {
				t.Errorf("portal user disable printed %q, want %q", out, want)
			}

			for _, base := range []string{two, one} { // the other instance first
				for name, auth := range map[string]*apiAuth{"session": session, "API token": token} {
					if code, detail := selfStatus(t, base, auth); code != http.StatusUnauthorized {
						t.Errorf("disabled: the %s on %s: GET /api/v1/self = %d %s, want 401", name, base, code, detail)
					}
				}
			}
			for _, base := range []string{one, two} {
				_, code, body := login(t, base, o.email, o.pw)
				if code != http.StatusForbidden || body["detail"] != app.DisabledMessage || body["account_disabled"] != true {
					t.Errorf("disabled: login = %d %v, want 403 %q", code, body, app.DisabledMessage)
				}
			}
			// A wrong password learns nothing about the account.
			if _, code, body := login(t, one, o.email, "Wrong-password-99"); code != http.StatusBadRequest || strings.Contains(body["detail"].(string), "disabled") {
				t.Errorf("disabled, wrong password: %d %v, want the usual 400", code, body)
			}
			form := url.Values{"email": {o.email}, "password": {o.pw}}
			res, err := http.PostForm(two+"/login", form)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden || !strings.Contains(string(page), app.DisabledMessage) {
				t.Errorf("disabled: GUI login = %d, want 403 with %q:\n%.2000s", res.StatusCode, app.DisabledMessage, page)
			}
			code, body := call(t, "POST", one+"/api/v1/recover/verify/"+link, map[string]any{"password": "Fresh-Lantern-482"}, nil)
			if code != http.StatusForbidden || body["detail"] != app.DisabledMessage {
				t.Errorf("disabled: recovery link = %d %v, want 403 %q", code, body, app.DisabledMessage)
			}
			if u, err := o.db.GetUser(ctx, o.user.ID); err != nil || !u.Disabled() || u.FirstName != "Ann" {
				t.Fatalf("disabled user: %+v, %v; want kept, and disabled", u, err)
			}

			err, out, _ = runCmd(t, []string{"user", "enable", o.email}, o.vars)
			if err != nil {
				t.Fatalf("portal user enable: %v", err)
			}
			if !strings.Contains(out, "enabled ann@example.com") || !strings.Contains(out, "stay revoked") {
				t.Errorf("portal user enable printed %q", out)
			}
			again := mustLogin(t, two, o.email, o.pw) // the refused recovery link set no password
			if code, detail := selfStatus(t, one, again); code != http.StatusOK {
				t.Errorf("enabled: GET /api/v1/self = %d %s", code, detail)
			}
			if code, _ := selfStatus(t, one, token); code != http.StatusUnauthorized {
				t.Errorf("enabled: the revoked API token answers %d, want 401", code)
			}
			if code, _ := selfStatus(t, one, session); code != http.StatusUnauthorized {
				t.Errorf("enabled: the ended session answers %d, want 401", code)
			}
			logs := auditMessages(t, one, again)
			for _, want := range []string{"An operator disabled the account", "An operator enabled the account"} {
				if !strings.Contains(logs, want) {
					t.Errorf("audit log lacks %q:\n%s", want, logs)
				}
			}
			// A session or token that exists while the account is disabled
			// (a login that was in flight when it was disabled) is refused
			// too: the check is part of authenticating every request.
			late := newToken(t, one, again)
			if err := o.db.Write(ctx, func(tx *store.Tx) error { return tx.SetUserDisabled(ctx, o.user.ID, time.Now()) }); err != nil {
				t.Fatal(err)
			}
			for name, auth := range map[string]*apiAuth{"session": again, "API token": late} {
				code, body := call(t, "GET", two+"/api/v1/self", nil, auth)
				if code != http.StatusUnauthorized || body["account_disabled"] != true {
					t.Errorf("the %s of a disabled account that was not ended: %d %v, want 401 with account_disabled", name, code, body)
				}
			}
			if err := o.db.Write(ctx, func(tx *store.Tx) error { return tx.SetUserDisabled(ctx, o.user.ID, time.Time{}) }); err != nil {
				t.Fatal(err)
			}
			// Enabling again changes nothing.
			if err, out, _ := runCmd(t, []string{"user", "enable", o.email}, o.vars); err != nil || !strings.Contains(out, "is not disabled") {
				t.Errorf("enable twice: %v %q", err, out)
			}

			for _, action := range []string{"disable", "enable", "end-sessions"} {
				err, out, _ := runCmd(t, []string{"user", action, "nobody@example.com"}, o.vars)
				if err == nil || !strings.Contains(err.Error(), `no account has the email address "nobody@example.com"`) || out != "" {
					t.Errorf("portal user %s of an unknown address: %v, printed %q", action, err, out)
				}
			}
		})
	}
}

// TestOperatorEndSessions: `portal user end-sessions EMAIL` ends every
// session of the user (in two browsers, on two Portals) at once, leaves
// other users' sessions and the user's API tokens alone, and lets the user
// log in again; it is in the user's audit log.
func TestOperatorEndSessions(t *testing.T) {
	for _, d := range testenv.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			o := newOperatorSetup(t, d)
			ctx := context.Background()
			bob := &portal.User{ID: uuid.NewString(), Email: "bob@example.com", PasswordHash: o.user.PasswordHash, EmailVerified: true,
				PasswordModifiedTime: time.Now(), CreatedTime: time.Now(), ModifiedTime: time.Now()}
			if err := o.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, bob) }); err != nil {
				t.Fatal(err)
			}
			one, two := o.serve(t), o.serve(t)
			laptop, phone := mustLogin(t, one, o.email, o.pw), mustLogin(t, two, o.email, o.pw)
			token := newToken(t, one, laptop)
			bobs := mustLogin(t, one, bob.Email, o.pw)

			err, out, stderr := runCmd(t, []string{"user", "end-sessions", o.email}, o.vars)
			if err != nil {
				t.Fatalf("portal user end-sessions: %v\n%s", err, stderr)
			}
			if want := "signed ann@example.com out everywhere: 2 sessions ended"; !strings.Contains(out, want) {
				t.Errorf("printed %q, want %q", out, want)
			}
			for _, base := range []string{one, two} {
				for name, auth := range map[string]*apiAuth{"laptop": laptop, "phone": phone} {
					if code, detail := selfStatus(t, base, auth); code != http.StatusUnauthorized {
						t.Errorf("the %s session on %s: GET /api/v1/self = %d %s, want 401", name, base, code, detail)
					}
				}
			}
			if code, detail := selfStatus(t, two, bobs); code != http.StatusOK {
				t.Errorf("another user's session: %d %s, want 200", code, detail)
			}
			if code, detail := selfStatus(t, two, token); code != http.StatusOK {
				t.Errorf("the user's API token: %d %s, want 200 (end-sessions leaves tokens)", code, detail)
			}
			again := mustLogin(t, two, o.email, o.pw)
			if logs := auditMessages(t, one, again); !strings.Contains(logs, "An operator signed the account out everywhere") {
				t.Errorf("audit log lacks the operator's sign-out:\n%s", logs)
			}
			// Run again: only the new session ends.
			if err, out, _ := runCmd(t, []string{"user", "end-sessions", o.email}, o.vars); err != nil || !strings.Contains(out, ": 1 session ended") {
				t.Errorf("second run: %v %q", err, out)
			}
			if err, _, _ := runCmd(t, []string{"user", "end-sessions"}, o.vars); err == nil || !strings.Contains(err.Error(), "usage: portal user") {
				t.Errorf("without an address: %v", err)
			}
			if err, _, _ := runCmd(t, []string{"user", "shout", o.email}, o.vars); err == nil || !strings.Contains(err.Error(), `unknown user command "shout"`) {
				t.Errorf("unknown action: %v", err)
			}
		})
	}
}
