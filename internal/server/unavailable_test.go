package server_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		c := st.SignUp(t, "away@example.com", "gone-kettle-lamp-1", "Away Org")
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

// TestDatabaseHangIs503: when PostgreSQL stops answering without refusing
// (a proxy that accepts connections, keeps them open and reads what is
// sent, but forwards nothing either way), a request that needs the
// database and /readyz answer 503 with Retry-After once the store's bound
// expires instead of hanging, and everything works again by itself once
// the proxy forwards again. The client's timeout (several times the bound)
// only keeps a hang from stalling the test.
func TestDatabaseHangIs503(t *testing.T) {
	if !slices.Contains(testenv.Dialects(t), store.Postgres) {
		t.Skip("PostgreSQL only: SQLite is a local file, it cannot be blackholed")
	}
	const bound = time.Second
	u, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	u.Host = p.addr
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	ctx := context.Background()
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.SetTimeout(bound)
	st := testenv.NewStackOn(t, db)
	t.Cleanup(p.forward) // before the stack shuts down, should the test fail

	c := st.SignUp(t, "hang@example.com", "stuck-kettle-lamp-1", "Hang Org")
	withTimeout := func(c *http.Client) *http.Client {
		cc := *c
		cc.Timeout = 5 * bound
		return &cc
	}
	session, anon := withTimeout(c), withTimeout(st.Client())
	if r := st.Do(t, session, "GET", "/api/v1/self", nil); r.Status != 200 {
		t.Fatalf("before: GET /api/v1/self: %d %s", r.Status, r.Body)
	}

	p.blackhole()
	r := st.Do(t, session, "GET", "/api/v1/self", nil)
	if r.Status != 503 {
		t.Fatalf("GET /api/v1/self while the database hangs: %d %s, want 503", r.Status, r.Body)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want an integer of seconds", r.Header.Get("Retry-After"))
	}
	if r := st.Do(t, session, "PUT", "/api/v1/self", map[string]any{"first_name": "Ada"}); r.Status != 503 {
		t.Errorf("PUT /api/v1/self while the database hangs: %d %s, want 503", r.Status, r.Body)
	}
	if r := st.Do(t, anon, "GET", "/readyz", nil); r.Status != 503 {
		t.Errorf("/readyz while the database hangs: %d %s, want 503", r.Status, r.Body)
	}

	p.forward()
	if r := st.Do(t, anon, "GET", "/readyz", nil); r.Status != 200 {
		t.Errorf("/readyz after the database answers again: %d %s, want 200", r.Status, r.Body)
	}
	if r := st.Do(t, session, "GET", "/api/v1/self", nil); r.Status != 200 {
		t.Errorf("GET /api/v1/self after the database answers again: %d %s", r.Status, r.Body)
	}
	if r := st.Do(t, session, "PUT", "/api/v1/self", map[string]any{"first_name": "Ada"}); r.Status != 200 {
		t.Errorf("PUT /api/v1/self after the database answers again: %d %s", r.Status, r.Body)
	}
}

// proxy forwards TCP connections from addr to a target; stop closes the
// listener and every connection (the database is away: refused), start
// listens again on the same address. blackhole makes it a database that
// hangs: connections are accepted and kept open, what arrives is read and
// dropped, nothing is forwarded either way, until forward.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	hole   atomic.Bool
}

func (p *proxy) blackhole() { p.hole.Store(true) }
func (p *proxy) forward()   { p.hole.Store(false) }

// pump copies from src to dst, dropping what arrives while blackholed.
func (p *proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.hole.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
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
			go p.pump(out, in)
			go p.pump(in, out)
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
