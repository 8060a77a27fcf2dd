package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"portal/internal/config"
	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

// cspDirectives parses a Content-Security-Policy into its directives.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for d := range strings.SplitSeq(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[strings.ToLower(f[0])] = f[1:]
		}
	}
	return out
}

// checkSecurityHeaders fails the test unless r carries the headers every
// answer of Portal carries; noStore: also Cache-Control: no-store.
func checkSecurityHeaders(t *testing.T, what string, r testenv.Response, noStore bool) {
	t.Helper()
	h := r.Header
	csp := cspDirectives(h.Get("Content-Security-Policy"))
	for name, want := range map[string]string{"default-src": "'self'", "object-src": "'none'", "base-uri": "'none'", "frame-ancestors": "'none'"} {
		if !slices.Equal(csp[name], []string{want}) {
			t.Errorf("%s (status %d): CSP %s = %q, want %s; CSP %q", what, r.Status, name, csp[name], want, h.Get("Content-Security-Policy"))
		}
	}
	scripts, ok := csp["script-src"]
	if !ok {
		scripts = csp["default-src"]
	}
	for _, src := range scripts {
		if strings.HasPrefix(src, "'unsafe-") || src == "*" || strings.HasSuffix(src, ":") {
			t.Errorf("%s: scripts allowed from %s: CSP %q", what, src, h.Get("Content-Security-Policy"))
		}
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s (status %d): X-Content-Type-Options = %q", what, r.Status, got)
	}
	if got := h.Get("Referrer-Policy"); !slices.Contains([]string{"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}, got) {
		t.Errorf("%s (status %d): Referrer-Policy = %q", what, r.Status, got)
	}
	if noStore && !slices.Contains(strings.Split(strings.ReplaceAll(h.Get("Cache-Control"), " ", ""), ","), "no-store") {
		t.Errorf("%s (status %d): Cache-Control = %q, want no-store", what, r.Status, h.Get("Cache-Control"))
	}
	if got := h.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("%s: Strict-Transport-Security %q over a base URL that is not https", what, got)
	}
}

// TestSecurityHeadersEveryAnswer: every kind of answer, whatever wrote it,
// carries the CSP (default-src 'self', object-src 'none', base-uri 'none',
// frame-ancestors 'none', no unsafe script source), nosniff and a
// Referrer-Policy, and every answer but a static file says no-store: HTML
// pages signed in or not, JSON, a redirect, static files, 401, 403 (a
// cross-origin refusal), 404 of the API, the GUI and the static files,
// 413, 429, 500 (a database fault, and the recovery after a panic, on the
// API and in the GUI) and 503 (a read-only database, a draining /readyz).
func TestSecurityHeadersEveryAnswer(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		ann := st.SignUp(t, "ann@example.com", "correct horse 1", "Acme")
		anon := st.Client()
		self := st.Do(t, ann, "GET", "/api/v1/self", nil)
		org := self.JSON(t)["privileges"].([]any)[0].(map[string]any)["org_id"].(string)

		get := func(c *http.Client, path string) testenv.Response {
			return sendRaw(t, st, c, "GET", path, nil, false, nil)
		}
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		crossSite := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
		big := strings.Repeat("a", 2<<20)
		type answer struct {
			what    string
			status  int
			noStore bool
			send    func() testenv.Response
		}
		answers := []answer{
			{"HTML page, signed out", 200, true, func() testenv.Response { return get(anon, "/login") }},
			{"HTML page, signed in", 200, true, func() testenv.Response { return get(ann, "/account") }},
			{"JSON API, signed in", 200, true, func() testenv.Response { return get(ann, "/api/v1/self") }},
			{"JSON API, signed out", 200, true, func() testenv.Response { return get(anon, "/api/v1/openapi.json") }},
			{"redirect to the login", 303, true, func() testenv.Response { return get(anon, "/account") }},
			{"static file", 200, false, func() testenv.Response { return get(anon, "/static/style.css") }},
			{"static 404", 404, false, func() testenv.Response { return get(anon, "/static/nothing.css") }},
			{"API 401", 401, true, func() testenv.Response { return get(anon, "/api/v1/self") }},
			{"API 404", 404, true, func() testenv.Response { return get(ann, "/api/v1/nothing") }},
			{"GUI 404, signed out", 404, true, func() testenv.Response { return get(anon, "/nothing") }},
			{"GUI 404, signed in", 404, true, func() testenv.Response { return get(ann, "/nothing") }},
			{"API 403, cross-origin", 403, true, func() testenv.Response {
				return sendRaw(t, st, ann, "POST", "/api/v1/orgs", strings.NewReader(`{"name":"X"}`), true, map[string]string{"Sec-Fetch-Site": "cross-site"})
			}},
			{"GUI 403, cross-origin", 403, true, func() testenv.Response {
				return sendRaw(t, st, anon, "POST", "/login", strings.NewReader("email=a%40b.c&password=x"), true, crossSite)
			}},
			{"API 413", 413, true, func() testenv.Response {
				return sendRaw(t, st, anon, "POST", "/api/v1/register", strings.NewReader(`{"email":"`+big+`"}`), true, nil)
			}},
			{"GUI 413", 413, true, func() testenv.Response {
				return sendRaw(t, st, anon, "POST", "/signup", strings.NewReader("first_name="+big), true, form)
			}},
		}
		for _, a := range answers {
			r := a.send()
			if r.Status != a.status {
				t.Errorf("%s: status %d, want %d", a.what, r.Status, a.status)
			}
			checkSecurityHeaders(t, a.what, r, a.noStore)
		}

		// 429: failed logins lock the account, on the API and in the GUI.
		var locked testenv.Response
		for range 10 {
			if locked = st.Do(t, anon, "POST", "/api/v1/login", map[string]any{"email": "ann@example.com", "password": "wrong password"}); locked.Status == 429 {
				break
			}
		}
		if locked.Status != 429 {
			t.Fatalf("10 failed logins: status %d, want 429", locked.Status)
		}
		checkSecurityHeaders(t, "API 429", locked, true)
		locked = sendRaw(t, st, anon, "POST", "/login", strings.NewReader("email=ann%40example.com&password=wrong"), true, form)
		if locked.Status != 429 {
			t.Errorf("GUI login of a locked account: status %d, want 429", locked.Status)
		}
		checkSecurityHeaders(t, "GUI 429", locked, true)

		// 500: a database fault (a table gone) on a real route.
		ctx := context.Background()
		if err := st.DB.Exec(ctx, "ALTER TABLE sites RENAME TO sites_away"); err != nil {
			t.Fatal(err)
		}
		for what, path := range map[string]string{"API 500": "/api/v1/orgs/" + org + "/sites", "GUI 500": "/orgs/" + org} {
			r := get(ann, path)
			if r.Status != 500 {
				t.Errorf("%s: GET %s with the sites table gone: status %d, want 500", what, path, r.Status)
			}
			checkSecurityHeaders(t, what, r, true)
		}
		if err := st.DB.Exec(ctx, "ALTER TABLE sites_away RENAME TO sites"); err != nil {
			t.Fatal(err)
		}

		// 500 after a panic, and 503 of a draining /readyz: the same
		// server with the routes of server.PanicPaths added.
		h, err := server.WithPanicRoutes(server.Options{Service: st.Service, Logger: slog.New(slog.DiscardHandler), Draining: func() bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		other := &testenv.Stack{URL: srv.URL}
		for _, p := range server.PanicPaths {
			r := sendRaw(t, other, anon, "GET", p, nil, false, nil)
			if r.Status != 500 {
				t.Errorf("GET %s (panics): status %d, want 500", p, r.Status)
			}
			wantType := "text/html"
			if strings.HasPrefix(p, "/api/") {
				wantType = "application/json"
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Errorf("GET %s (panics): Content-Type %q, want %s", p, ct, wantType)
			}
			checkSecurityHeaders(t, "500 after a panic at "+p, r, true)
		}
		r := sendRaw(t, other, anon, "GET", "/readyz", nil, false, nil)
		if r.Status != 503 {
			t.Errorf("/readyz while draining: status %d, want 503", r.Status)
		}
		checkSecurityHeaders(t, "503 of /readyz", r, true)

		// 503: the database read-only (SQLite; TestDatabaseAwayIs503 has
		// PostgreSQL away).
		if d != store.SQLite {
			return
		}
		csrf := csrfInput.FindStringSubmatch(pageText(t, st, ann, "/account"))
		if csrf == nil {
			t.Fatal("no csrf_token on /account")
		}
		if err := st.DB.Exec(ctx, "PRAGMA query_only = 1"); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.DB.Exec(ctx, "PRAGMA query_only = 0") }()
		r = st.Do(t, ann, "PUT", "/api/v1/self", map[string]any{"first_name": "Ada"})
		if r.Status != 503 {
			t.Errorf("API with the database read-only: status %d, want 503", r.Status)
		}
		checkSecurityHeaders(t, "API 503", r, true)
		body := url.Values{"csrf_token": {csrf[1]}, "first_name": {"Ada"}, "last_name": {"L"}}.Encode()
		r = sendRaw(t, st, ann, "POST", "/account/info", strings.NewReader(body), true, form)
		if r.Status != 503 {
			t.Errorf("GUI with the database read-only: status %d, want 503", r.Status)
		}
		checkSecurityHeaders(t, "GUI 503", r, true)
	})
}

// TestHSTSOnHTTPSBaseURL: with an https PORTAL_BASE_URL every answer (a
// page, JSON, an error, a static file) carries Strict-Transport-Security
// for a year with includeSubDomains; with an http one, none does.
func TestHSTSOnHTTPSBaseURL(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	for _, base := range []string{"https://portal.example.com", "http://portal.example.com"} {
		cfg, err := config.Load([]string{"-base-url", base, "-data-dir", t.TempDir()}, func(string) string { return "" }, nil)
		if err != nil {
			t.Fatal(err)
		}
		// As portal serve builds the server (cmd/portal).
		h, err := server.NewServer(server.Options{Service: st.Service, SecureCookies: cfg.SecureCookies()})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/login", "/api/v1/self", "/api/v1/nothing", "/nothing", "/static/style.css", "/healthz"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			got := rec.Header().Get("Strict-Transport-Security")
			if !strings.HasPrefix(base, "https://") {
				if got != "" {
					t.Errorf("base URL %s: GET %s: Strict-Transport-Security %q, want none", base, path, got)
				}
				continue
			}
			var maxAge, sub bool
			for p := range strings.SplitSeq(got, ";") {
				p = strings.TrimSpace(p)
				maxAge = maxAge || p == "max-age=31536000"
				sub = sub || strings.EqualFold(p, "includeSubDomains")
			}
			if !maxAge || !sub {
				t.Errorf("base URL %s: GET %s (status %d): Strict-Transport-Security %q, want max-age=31536000; includeSubDomains", base, path, rec.Code, got)
			}
		}
	}
}

// TestStaticServesFilesOnly: /static/ serves its files (cacheable) but
// lists no directory, neither /static/ itself nor one under it (404).
func TestStaticServesFilesOnly(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	c := st.Client()
	for _, path := range []string{"/static/style.css", "/static/app.js", "/static/favicon.svg"} {
		r := sendRaw(t, st, c, "GET", path, nil, false, nil)
		if r.Status != 200 || len(r.Body) == 0 {
			t.Errorf("GET %s: status %d, %d bytes", path, r.Status, len(r.Body))
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("GET %s: Cache-Control %q, want a max-age", path, cc)
		}
	}
	for _, path := range []string{"/static/", "/static//", "/static/./", "/static/nothing.css", "/static/style.css/x"} {
		r := sendRaw(t, st, c, "GET", path, nil, false, nil)
		if r.Status == 301 || r.Status == 307 || r.Status == 308 { // the mux's path cleaning
			r = sendRaw(t, st, c, "GET", strings.TrimPrefix(r.Header.Get("Location"), st.URL), nil, false, nil)
		}
		if r.Status != 404 || strings.Contains(string(r.Body), "style.css") {
			t.Errorf("GET %s: status %d, want 404 without a listing: %.200s", path, r.Status, r.Body)
		}
	}

	// A directory under /static/ (the embedded files have none).
	fsys := fstest.MapFS{
		"static/app.css":       {Data: []byte("body{}")},
		"static/fonts/a.woff2": {Data: []byte("font")},
		"static/img/x/y.svg":   {Data: []byte("<svg/>")},
	}
	h := server.FilesOnly(fsys)
	for path, want := range map[string]int{
		"/static/app.css": 200, "/static/fonts/a.woff2": 200, "/static/img/x/y.svg": 200,
		"/static/": 404, "/static/fonts/": 404, "/static/fonts": 404, "/static/img/": 404, "/static/img/x/": 404, "/static/img/x": 404,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: status %d, want %d", path, rec.Code, want)
		}
		if want == 404 && (strings.Contains(rec.Body.String(), "a.woff2") || strings.Contains(rec.Body.String(), "y.svg") || strings.Contains(rec.Body.String(), "href")) {
			t.Errorf("GET %s lists files: %s", path, rec.Body)
		}
	}
}
