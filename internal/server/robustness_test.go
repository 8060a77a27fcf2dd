package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// postForm posts a GUI form with the CSRF token of the client's session
// (read from My Account).
func postForm(t *testing.T, st *testenv.Stack, c *http.Client, path string, form url.Values) testenv.Response {
	t.Helper()
	m := csrfInput.FindStringSubmatch(pageText(t, st, c, "/account"))
	if m == nil {
		t.Fatal("no csrf_token on /account")
	}
	body := "csrf_token=" + url.QueryEscape(m[1])
	if enc := form.Encode(); enc != "" {
		body += "&" + enc
	}
	return sendRaw(t, st, c, "POST", path, strings.NewReader(body), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// postRawForm is postForm with the form already encoded (to send bytes
// url.Values would not produce as such).
func postRawForm(t *testing.T, st *testenv.Stack, c *http.Client, path, encoded string) testenv.Response {
	t.Helper()
	m := csrfInput.FindStringSubmatch(pageText(t, st, c, "/account"))
	if m == nil {
		t.Fatal("no csrf_token on /account")
	}
	body := "csrf_token=" + url.QueryEscape(m[1]) + "&" + encoded
	return sendRaw(t, st, c, "POST", path, strings.NewReader(body), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// TestInvalidBytesAreNot500: a User-Agent with bytes that are not UTF-8
// and ids with NUL or invalid bytes in GUI forms are no server errors on
// either database (PostgreSQL refuses such text).
func TestInvalidBytesAreNot500(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		st.SignUp(t, "ua@example.com", "ua-password-1", "UA Org")
		c := st.Client()
		r := sendRaw(t, st, c, "POST", "/api/v1/login", strings.NewReader(`{"email":"ua@example.com","password":"ua-password-1"}`), true,
			map[string]string{"User-Agent": "Mozilla/5.0 \xff\xfe bad"})
		if r.Status != 200 {
			t.Fatalf("login with a User-Agent that is not UTF-8: %d %s", r.Status, r.Body)
		}
		if page := pageText(t, st, c, "/account"); !strings.Contains(page, "Sessions") && !strings.Contains(page, "sessions") {
			t.Errorf("My Account without its sessions section")
		}
		r = sendRaw(t, st, c, "GET", "/api/v1/self/sessions", nil, false, nil)
		if r.Status != 200 {
			t.Errorf("list sessions: %d %s", r.Status, r.Body)
		}
		for _, id := range []string{"%00", "%FF", "abc%00def", "x", "00000000-0000-0000-0000-00000000000%FF"} {
			for _, f := range []struct{ path, field string }{{"/account/sessions", "session_id"}, {"/account/apitokens", "token_id"}} {
				r := postRawForm(t, st, c, f.path, f.field+"="+id)
				if r.Status != http.StatusNotFound {
					t.Errorf("POST %s %s=%s: status %d, want 404: %s", f.path, f.field, id, r.Status, firstLine(string(r.Body), "rror"))
				}
				if !strings.Contains(string(r.Body), "not found") {
					t.Errorf("POST %s %s=%s: no \"not found\" shown", f.path, f.field, id)
				}
			}
		}
		// A well-formed id of nothing is still not found, not a 500.
		r = postForm(t, st, c, "/account/sessions", url.Values{"session_id": {"00000000-0000-0000-0000-000000000000"}})
		if r.Status >= 500 {
			t.Errorf("unknown session id: status %d", r.Status)
		}
	})
}

// logBuffer is a slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsHoldNoTokens: request log lines of routes with a token in the
// path log the route pattern, and no log line holds a query.
func TestLogsHoldNoTokens(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	var logs logBuffer
	h, err := server.NewServer(server.Options{Service: st.Service, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Ready: st.DB.Ping})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const secret = "SeCrEtToKeN0123456789"
	for _, req := range []struct{ method, path string }{
		{"POST", "/api/v1/register/verify/" + secret},
		{"POST", "/api/v1/recover/verify/" + secret},
		{"GET", "/api/v1/self/update/verify/" + secret},
		{"POST", "/api/v1/self/update/revert/" + secret},
		{"POST", "/api/v1/invite/verify/" + secret},
		{"POST", "/api/v1/invite/decline/" + secret},
		{"GET", "/verify/register?token=" + secret},
		{"GET", "/recover/verify?token=" + secret},
		{"GET", "/invite?token=" + secret},
		{"GET", "/account/email/revert?token=" + secret},
	} {
		rq, _ := http.NewRequestWithContext(context.Background(), req.method, srv.URL+req.path, nil)
		res, err := http.DefaultTransport.RoundTrip(rq)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("a token reached the logs:\n%s", out)
	}
	for _, want := range []string{"path=/api/v1/register/verify/{token}", "path=/api/v1/invite/decline/{token}", "path=/verify/register "} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}
