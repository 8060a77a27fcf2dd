package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeKeyFileAndLogTimes: the secret key that serve generates on
// SQLite is readable by its owner only, in a directory that is the owner's
// alone (ASVS V13.3.2); every log line starts with its time in RFC 3339
// with an explicit offset, so that lines of several instances compare
// (V16.2.2).
func TestServeKeyFileAndLogTimes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	vars := map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": dir, "PORTAL_SHUTDOWN_DRAIN": "0"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
	client := &http.Client{Timeout: 5 * time.Second}
	waitServing(t, done, &stdout, &stderr, answersOK(client, "http://"+addr+"/healthz"))
	get(t, "http://"+addr+"/no-such-page")

	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "secret.key"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("too few log lines: %q", stderr.String())
	}
	for _, l := range lines {
		ts, ok := strings.CutPrefix(l, "time=")
		if !ok {
			t.Errorf("a log line without its time first: %q", l)
			continue
		}
		ts, _, _ = strings.Cut(ts, " ")
		when, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || (!strings.HasSuffix(ts, "Z") && !strings.ContainsAny(ts[len(ts)-6:], "+-")) {
			t.Errorf("log time %q is not RFC 3339 with an offset: %v", ts, err)
			continue
		}
		if d := time.Since(when); d < -time.Minute || d > time.Hour {
			t.Errorf("log time %q is %v away from now", ts, d)
		}
	}
}

// TestServeWarnsOnPlainHTTP (ASVS V12.2.1): serve says, at start, when its
// public URL is plain http:// on a host other than this machine: a
// production Portal must be reached over https only. Development on
// loopback and an https:// URL start without the warning.
func TestServeWarnsOnPlainHTTP(t *testing.T) {
	for baseURL, warn := range map[string]bool{
		"http://portal.example.com":  true,
		"http://10.0.0.5:8080":       true,
		"https://portal.example.com": false,
		"":                           false, // http:// + the loopback listen address
		"http://localhost:8080":      false,
	} {
		dir := filepath.Join(t.TempDir(), "data")
		addr := freeAddr(t)
		vars := map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": dir, "PORTAL_SHUTDOWN_DRAIN": "0"}
		if baseURL != "" {
			vars["PORTAL_BASE_URL"] = baseURL
		}
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
		client := &http.Client{Timeout: 5 * time.Second}
		waitServing(t, done, &stdout, &stderr, answersOK(client, "http://"+addr+"/healthz"))
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("%q: run: %v", baseURL, err)
		}
		warned := strings.Contains(stderr.String(), "level=WARN msg=\"PORTAL_BASE_URL is not https://")
		if warned != warn {
			t.Errorf("PORTAL_BASE_URL %q: warned %v, want %v\n%s", baseURL, warned, warn, stderr.String())
		}
	}
}
