package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"portal/internal/server"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestMetricsAccess: /metrics on the main address answers loopback clients
// and PORTAL_METRICS_ALLOW only, judged by the TCP peer (a forwarded
// address counts only from a trusted proxy, and then must itself be
// allowed); everyone else gets exactly the 404 of an unknown path.
func TestMetricsAccess(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	h, err := server.NewServer(server.Options{Service: st.Service,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.2/32")},
		MetricsAllow:   []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::7/128")}})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, path, peer, xff string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, peer, xff string
		allowed         bool
	}{
		{"loopback", "127.0.0.1:40000", "", true},
		{"IPv6 loopback", "[::1]:40000", "", true},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:40000", "", true},
		{"allowed network", "192.0.2.44:40000", "", true},
		{"allowed IPv6 address", "[2001:db8::7]:40000", "", true},
		{"public peer", "203.0.113.9:40000", "", false},
		{"private peer not allowed", "172.16.0.5:40000", "", false},
		{"public peer claiming loopback", "203.0.113.9:40000", "127.0.0.1", false},
		{"public peer claiming an allowed address", "203.0.113.9:40000", "192.0.2.44", false},
		{"via a trusted proxy, public client", "10.0.0.2:40000", "203.0.113.9", false},
		{"via a trusted proxy, client spoofing loopback", "10.0.0.2:40000", "127.0.0.1, 203.0.113.9", false},
		{"via a trusted proxy, no client address", "10.0.0.2:40000", "", false},
		{"via a loopback trusted proxy, public client", "127.0.0.2:40000", "203.0.113.9", false},
		{"via a loopback trusted proxy, no client address", "127.0.0.2:40000", "", false},
		{"via a trusted proxy, allowed client", "10.0.0.2:40000", "192.0.2.44", true},
		{"via two trusted proxies, allowed client", "10.0.0.2:40000", "192.0.2.44, 10.0.0.3", true},
	} {
		w := serve("GET", "/metrics", tc.peer, tc.xff)
		if tc.allowed {
			if w.Code != 200 || !strings.Contains(w.Body.String(), "go_goroutines") {
				t.Errorf("%s: GET /metrics = %d, want the metrics", tc.name, w.Code)
			}
			continue
		}
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: GET /metrics = %d, want 404", tc.name, w.Code)
			continue
		}
		// Exactly what an unknown path answers: nothing tells that the
		// path exists, whatever the method.
		for _, m := range []string{"GET", "HEAD", "POST", "DELETE"} {
			got, want := serve(m, "/metrics", tc.peer, tc.xff), serve(m, "/no-such-page", tc.peer, tc.xff)
			if got.Code != want.Code || got.Header().Get("Allow") != want.Header().Get("Allow") ||
				strings.ReplaceAll(got.Body.String(), "/metrics", "/no-such-page") != want.Body.String() {
				t.Errorf("%s: %s /metrics = %d Allow %q, unlike an unknown path (%d Allow %q):\n%s", tc.name, m, got.Code, got.Header().Get("Allow"), want.Code, want.Header().Get("Allow"), got.Body)
			}
		}
	}
	if w := serve("POST", "/metrics", "127.0.0.1:40000", ""); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics from loopback = %d, want 405", w.Code)
	}
}

// TestMetricsElsewhere: with PORTAL_METRICS_ADDR the main handler has no
// /metrics at all, not even for loopback; Metrics.Handler serves it.
func TestMetricsElsewhere(t *testing.T) {
	st := testenv.NewStack(t, store.SQLite)
	m := server.NewMetrics(nil)
	h, err := server.NewServer(server.Options{Service: st.Service, Metrics: m, MetricsElsewhere: true})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Errorf("GET /metrics on the main handler = %d, want 404", w.Code)
	}
	for path, want := range map[string]int{"/metrics": 200, "/": 404, "/healthz": 404} {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "198.51.100.1:40000"
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("metrics listener: GET %s = %d, want %d", path, w.Code, want)
		}
		if want == 200 && !strings.Contains(w.Body.String(), "go_goroutines") {
			t.Errorf("metrics listener: no metrics:\n%s", w.Body)
		}
	}
}
