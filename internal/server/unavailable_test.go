package server_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestDatabaseAwayIs503: while the database is away (PostgreSQL: the
// connection to it cut and refused, through a proxy the test stops) or
// read-only (SQLite: the write connection made query_only, which refuses
// writes as a read-only file does), the API answers 503 with a detail that
// says so and an integer Retry-After, the GUI shows a friendly page with
// Retry-After, and once the database is back requests succeed again by
// themselves; /readyz fails meanwhile (its write probe notices the
// read-only database) and recovers.
func TestDatabaseAwayIs503(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		var st *testenv.Stack
		var away, back func()
		switch d {
		case store.SQLite:
			st = testenv.NewStack(t, d)
			setQueryOnly := func(on string) {
				if err := st.DB.Exec(context.Background(), "PRAGMA query_only = "+on); err != nil {
					t.Fatal(err)
				}
			}
			away, back = func() { setQueryOnly("1") }, func() { setQueryOnly("0") }
		case store.Postgres:
			u, err := url.Parse(testenv.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			p := startProxy(t, u.Host)
			u.Host = p.addr
			ctx := context.Background()
			db, err := store.Open(ctx, u.String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			st = testenv.NewStackOn(t, db)
			away, back = p.stop, p.start
		}
		c := st.SignUp(t, "away@example.com", "away-password-1", "Away Org")
		token := csrfInput.FindStringSubmatch(pageText(t, st, c, "/account"))
		if token == nil {
			t.Fatal("no csrf_token on /account")
		}
		guiSave := func() testenv.Response {
			body := url.Values{"csrf_token": {token[1]}, "first_name": {"Ada"}, "last_name": {"Lovelace"}}.Encode()
			return sendRaw(t, st, c, "POST", "/account/info", strings.NewReader(body), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}

		away()
		r := st.Do(t, c, "PUT", "/api/v1/self", map[string]any{"first_name": "Ada"})
		if r.Status != 503 {
			t.Fatalf("API while the database is away: %d %s, want 503", r.Status, r.Body)
		}
		if got := r.JSON(t)["detail"]; got != "the service is temporarily unavailable; please try again in a moment" {
			t.Errorf("API detail = %q", got)
		}
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("API Retry-After = %q, want an integer of seconds", r.Header.Get("Retry-After"))
		}
		r = guiSave()
		if r.Status != 503 || !strings.Contains(string(r.Body), "Temporarily unavailable") || !strings.Contains(string(r.Body), "temporarily unavailable. Please try again in a moment") {
			t.Fatalf("GUI while the database is away: %d %s", r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Error("GUI: no Retry-After")
		}

		if r := st.Do(t, st.Client(), "GET", "/readyz", nil); r.Status != 503 {
			t.Errorf("/readyz while the database is away: %d %s, want 503", r.Status, r.Body)
		}

		back()
		if r := st.Do(t, st.Client(), "GET", "/readyz", nil); r.Status != 200 {
			t.Errorf("/readyz after the database is back: %d %s, want 200", r.Status, r.Body)
		}
		if r := st.Do(t, c, "PUT", "/api/v1/self", map[string]any{"first_name": "Ada"}); r.Status != 200 {
			t.Fatalf("API after the database is back: %d %s", r.Status, r.Body)
		}
		if r := guiSave(); r.Status >= 400 {
			t.Fatalf("GUI after the database is back: %d %s", r.Status, r.Body)
		}
	})
}

// proxy forwards TCP connections from addr to a target; stop closes the
// listener and every connection (the database is away: refused), start
// listens again on the same address.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, addr: "127.0.0.1:0"}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
