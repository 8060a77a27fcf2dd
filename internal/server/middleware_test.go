package server

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestRealIP(t *testing.T) {
	s := &server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cases := []struct{ peer, xff, want string }{
		{"203.0.113.5:1234", "", "203.0.113.5"},
		{"203.0.113.5:1234", "198.51.100.1", "203.0.113.5"},                  // untrusted peer: header ignored
		{"10.0.0.2:1234", "198.51.100.1", "198.51.100.1"},                    // trusted load balancer
		{"10.0.0.2:1234", "1.2.3.4, 198.51.100.1, 10.0.0.9", "198.51.100.1"}, // right-most untrusted hop
		{"10.0.0.2:1234", "garbage", "10.0.0.2"},
		{"10.0.0.2:1234", "", "10.0.0.2"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.realIP(r); got != c.want {
			t.Errorf("peer %s xff %q: got %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/orgs/x?y=1":          "/orgs/x?y=1",
		"":                     "/",
		"https://evil.example": "/",
		"//evil.example/x":     "/",
		"/\\evil.example":      "/",
		"javascript:alert(1)":  "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSanitizeUserAgent(t *testing.T) {
	for in, want := range map[string]string{
		"Mozilla/5.0":        "Mozilla/5.0",
		"Mozilla\x00/5.0":    "Mozilla",
		"bad \xff\xfe end":   "bad \uFFFD end",
		"\x00":               "",
		"ok \xe2\x82 \x00 x": "ok \uFFFD ",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("User-Agent", in)
		sanitizeUserAgent(r)
		if got := r.Header.Get("User-Agent"); got != want {
			t.Errorf("sanitizeUserAgent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogPath(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/v1/register/verify/secret?x=1", nil)
	r.Pattern = "POST /api/v1/register/verify/{token}"
	if got := logPath(r); got != "/api/v1/register/verify/{token}" {
		t.Errorf("logPath = %q", got)
	}
	r = httptest.NewRequest("GET", "/verify/register?token=secret", nil)
	r.Pattern = "GET /verify/register"
	if got := logPath(r); got != "/verify/register" {
		t.Errorf("logPath = %q", got)
	}
}
