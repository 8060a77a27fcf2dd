package oidclogin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLazyDiscovery: New fetches nothing (Portal starts while the provider
// is down); a failed discovery is ErrUnavailable and is tried again at
// the next use, which then succeeds.
func TestLazyDiscovery(t *testing.T) {
	var calls, up atomic.Int32
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if up.Load() == 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
			"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	srv.Start()
	defer srv.Close()

	p := New(Config{ClientID: "client", ClientSecret: "secret", Issuer: issuer, RedirectURL: "http://portal.test/oauth/google/callback", Timeout: 5 * time.Second})
	if n := calls.Load(); n != 0 {
		t.Fatalf("New made %d requests to the provider, want none", n)
	}
	if _, err := p.AuthCodeURL(t.Context(), "state", "nonce", strings.Repeat("v", 43)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("AuthCodeURL while the provider is down: %v, want ErrUnavailable", err)
	}
	up.Store(1)
	u, err := p.AuthCodeURL(t.Context(), "state", "nonce", strings.Repeat("v", 43))
	if err != nil {
		t.Fatalf("AuthCodeURL once the provider is up: %v", err)
	}
	if !strings.HasPrefix(u, issuer+"/authorize?") || !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "nonce=nonce") {
		t.Errorf("authorization URL %s", u)
	}
	if got := p.AuthOrigin(); got != issuer {
		t.Errorf("AuthOrigin %q, want %q", got, issuer)
	}
	before := calls.Load()
	if _, err := p.AuthCodeURL(t.Context(), "s2", "n2", strings.Repeat("w", 43)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != before {
		t.Error("discovery was fetched again after it succeeded")
	}
}
