package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRoundTrips counts the PostgreSQL round trips of authenticated
// requests, through a proxy that reads the wire protocol between Portal
// and the database: a round trip ends with a Sync message (extended
// protocol) or is one Query message (simple protocol). No mail worker or
// clean-up loop runs, so every round trip counted is the request's. It
// logs the counts (the figure the database work starts from) and
// checks only that requests were counted.
func TestRoundTrips(t *testing.T) {
	proxy, addr, emails := countedPortal(t, world{users: 1, orgs: 1})
	ctx := context.Background()
	accts, err := prepare(ctx, "http://"+addr, emails)
	if err != nil {
		t.Fatal(err)
	}
	a := accts[0]
	client := &http.Client{}
	const n = 20
	// Once warm, a request costs the auth_epoch read (the authentication
	// cache, internal/app/authcache.go) and its handler's own reads.
	for _, c := range []struct {
		name string
		want int64 // round trips per request, once warm
		req  func() *http.Request
	}{
		{"session GET /api/v1/self", 1, func() *http.Request {
			req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/self", nil)
			a.cookies(req)
			return req
		}},
		{"token GET /api/v1/self", 1, func() *http.Request {
			req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/self", nil)
			req.Header.Set("Authorization", "Token "+a.token)
			return req
		}},
		{"session GET /api/v1/orgs/{org_id}", 2, func() *http.Request {
			req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/orgs/"+a.orgID, nil)
			a.cookies(req)
			return req
		}},
	} {
		var before int64
		for i := range n + 1 {
			if i == 1 { // the first request fills the cache
				before = proxy.trips.Load()
			}
			resp, err := client.Do(c.req())
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", c.name, resp.Status)
			}
		}
		trips := proxy.trips.Load() - before
		t.Logf("%s: %.1f database round trips per request", c.name, float64(trips)/n)
		if trips != c.want*n {
			t.Errorf("%s: %d round trips for %d requests, want %d each", c.name, trips, n, c.want)
		}
	}
}

// countedPortal serves Portal on a new schema of PORTAL_TEST_POSTGRES_URL
// (skipping the test without one) through the counting proxy, with w
// seeded (its last w.totp accounts with a second factor), and returns the
// proxy, Portal's address and the accounts' addresses. No mail worker or
// clean-up loop runs, so every round trip counted is a request's.
func countedPortal(t *testing.T, w world) (*pgCounter, string, []string) {
	base := os.Getenv("PORTAL_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("PORTAL_TEST_POSTGRES_URL is not set")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if u.Query().Get("sslmode") != "disable" {
		t.Skip("the counting proxy reads the plain wire protocol: PORTAL_TEST_POSTGRES_URL needs sslmode=disable")
	}
	proxy := startPGCounter(t, u.Host)
	u.Host = proxy.addr
	ctx := context.Background()
	db, _, cleanup, err := openDB(ctx, options{db: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	srv, addr, err := startPortal(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := seedWorld(ctx, db, w, mustBox(), io.Discard); err != nil {
		t.Fatal(err)
	}
	emails := make([]string, w.users)
	for i := range emails {
		emails[i] = w.email(i)
	}
	return proxy, addr, emails
}

// pgCounter forwards connections to a PostgreSQL server and counts the
// round trips clients start, and the transactions they begin: a simple
// Query message that is BEGIN (database/sql's BeginTx sends "begin"), or
// a Bind message of a statement prepared as BEGIN (a write transaction's
// BEGIN goes with its first statement, in a batch).
type pgCounter struct {
	addr   string
	trips  atomic.Int64
	begins atomic.Int64
}

func startPGCounter(t *testing.T, target string) *pgCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgCounter{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Go(func() { io.Copy(c, s); c.Close() })
			wg.Go(func() { p.count(s, c); s.Close() })
		}
	})
	return p
}

// count copies the client's messages to the server: the start-up message
// (length, then body), then typed messages (type byte, length, body).
func (p *pgCounter) count(dst io.Writer, src io.Reader) {
	begins := map[string]bool{} // the names of this connection's prepared statements that are BEGIN
	var hdr [5]byte
	if _, err := io.ReadFull(src, hdr[:4]); err != nil {
		return
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if _, err := dst.Write(hdr[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(dst, src, n-4); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		if hdr[0] == 'S' || hdr[0] == 'Q' {
			p.trips.Add(1)
		}
		n := int64(binary.BigEndian.Uint32(hdr[1:]))
		if _, err := dst.Write(hdr[:]); err != nil {
			return
		}
		body := io.Reader(src)
		switch hdr[0] {
		case 'Q', 'P', 'B': // a simple query, a statement prepared, a statement bound to run
			msg := make([]byte, n-4)
			if _, err := io.ReadFull(src, msg); err != nil {
				return
			}
			body = bytes.NewReader(msg)
			fields := bytes.SplitN(msg, []byte{0}, 3)
			switch {
			case hdr[0] == 'Q' && isBegin(fields[0]):
				p.begins.Add(1)
			case hdr[0] == 'P' && len(fields) > 1 && isBegin(fields[1]): // statement name, query
				begins[string(fields[0])] = true
			case hdr[0] == 'P' && len(fields) > 1:
				delete(begins, string(fields[0]))
			case hdr[0] == 'B' && len(fields) > 1 && begins[string(fields[1])]: // portal name, statement name
				p.begins.Add(1)
			}
		}
		if _, err := io.CopyN(dst, body, n-4); err != nil && !errors.Is(err, io.EOF) {
			return
		}
	}
}

// isBegin tells whether a query is BEGIN.
func isBegin(query []byte) bool {
	return strings.EqualFold(strings.TrimSpace(string(query)), "begin")
}
