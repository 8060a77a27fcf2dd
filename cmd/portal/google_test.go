package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeWithGoogleDown: with PORTAL_GOOGLE_CLIENT_ID set and the issuer
// unreachable, portal serve starts (discovery waits for the first use),
// offers Sign in with Google, and answers its start with a 503 that says
// Google cannot be reached.
func TestServeWithGoogleDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	addr := freeAddr(t)
	vars := map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": filepath.Join(t.TempDir(), "data"), "PORTAL_SHUTDOWN_DRAIN": "0",
		"PORTAL_GOOGLE_CLIENT_ID": "portal-client", "PORTAL_GOOGLE_CLIENT_SECRET": "secret", "PORTAL_GOOGLE_ISSUER": issuer}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
	base := "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second}
	waitServing(t, done, &stdout, &stderr, answersOK(client, base+"/healthz"))
	if code, body := get(t, base+"/login"); code != 200 || !strings.Contains(body, "Sign in with Google") {
		t.Errorf("/login = %d, without Sign in with Google", code)
	}
	res, err := client.Get(base + "/api/v1/login/oauth/google")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body["detail"].(string), "Google cannot be reached") {
		t.Errorf("GET /api/v1/login/oauth/google = %d %v, want 503 saying Google cannot be reached", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
