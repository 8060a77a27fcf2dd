package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"portal/internal/authn"
)

// TestLoginRoundTrips counts the PostgreSQL round trips and transactions
// of a password login (POST /api/v1/login) through the counting proxy of
// TestRoundTrips: a successful one, a wrong password on an account and an
// address without an account. It fails when a login needs more than it
// does now, so that a change that brings a round trip or a transaction
// back shows in review (README ▸ Performance says what a login writes).
// Today: the locks of the account and the address (1); the account (1),
// read while their counts are made before the hash (begin with one
// statement for both, then SET LOCAL synchronous_commit = off with the
// commit in one batch: 2); then with the right password the session's
// transaction (begin with the hold of the user's row and the session's
// terms, then the session, its audit entry, the two counters and the
// commit in one batch: 2); with a wrong one the pending sign-up (1) and the
// failure's transaction (begin, its row if the account exists, and the
// commit in one batch: 1). Before 2026-11-29, when a transaction's begin
// was a round trip of its own, 8.
func TestLoginRoundTrips(t *testing.T) {
	cheapHashes(t)
	const n = 10
	proxy, addr, emails := countedPortal(t, world{users: 2*n + 1, orgs: 1})
	client := &http.Client{}
	type scenario struct {
		name          string
		email         func(i int) string
		password      string
		status        int
		trips, begins float64 // at most, per login
	}
	login := func(c scenario, i int) {
		body, _ := json.Marshal(map[string]string{"email": c.email(i), "password": c.password})
		resp, err := client.Post("http://"+addr+"/api/v1/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %s, want %d", c.name, resp.Status, c.status)
		}
	}
	scenarios := []scenario{
		{"right password", func(i int) string { return emails[i] }, benchPassword, http.StatusOK, 6, 2},
		{"wrong password", func(i int) string { return emails[n+i] }, "not the password", http.StatusBadRequest, 6, 2},
		{"unknown address", func(i int) string { return "nobody-" + emails[i] }, benchPassword, http.StatusBadRequest, 6, 2},
	}
	// The same logins once first, so that the statements are prepared on
	// the connections (pgx prepares a statement on its first use on each,
	// and a login reads the account on one connection while it counts the
	// attempt on another, whichever the pool hands out). Each account then
	// has at most two wrong passwords, and the address 40 failures: no
	// limit is reached.
	for i := 1; i <= n; i++ {
		for _, c := range scenarios {
			login(c, i)
		}
	}
	for _, c := range scenarios {
		trips, begins := proxy.trips.Load(), proxy.begins.Load()
		for i := 1; i <= n; i++ {
			login(c, i)
		}
		perTrips := float64(proxy.trips.Load()-trips) / n
		perBegins := float64(proxy.begins.Load()-begins) / n
		t.Logf("%s: %.1f database round trips, %.1f transactions per login", c.name, perTrips, perBegins)
		// Less than one round trip of slack per login: now and then the
		// pool hands a login a connection on which pgx has not prepared its
		// statements yet (about six more round trips once over ten logins,
		// seen as 6.6), or one idle for over a second, which pgx pings
		// first. A whole round trip more per login still fails.
		if perTrips >= c.trips+1 {
			t.Errorf("%s: %.1f round trips per login, want at most %.0f", c.name, perTrips, c.trips)
		}
		if perBegins > c.begins {
			t.Errorf("%s: %.1f transactions per login, want at most %.0f", c.name, perBegins, c.begins)
		}
	}
}

// TestLoginTwoFactorRoundTrips counts, as TestLoginRoundTrips does, the
// round trips and transactions of a login with a second factor: the
// password step (POST /api/v1/login), which for an account with TOTP
// costs what a login without one does, and the code step (POST
// /api/v1/login/two_factor). It fails when either needs more than it does
// now. The code step today: auth_epoch (1); the pending session with its
// user (1); the privileges with the organizations' policies, session
// lifetimes and two-factor requirements (store.UserAccess, 1; 3 before
// 2026-11-28, and the lifetimes read twice more); the second factor (1);
// its attempts' limit (1); then the transaction: begin with the code's
// step used up, the session passed with its new token (answered on its
// own), then its expiry, the limit's reset, the audit entry and the commit
// in one batch (3; 4 before 2026-11-29, when begin was a round trip of its
// own).
func TestLoginTwoFactorRoundTrips(t *testing.T) {
	cheapHashes(t)
	const n = 10
	w := world{users: 2 * n, orgs: 1, totp: 2 * n}
	proxy, addr, emails := countedPortal(t, w)
	client := &http.Client{}
	post := func(path string, body any, session, csrf string) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if session != "" {
			(&account{session: session, csrf: csrf}).cookies(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
		return resp
	}
	var pw, second [2]int64 // round trips, transactions: all logins' password and code steps
	for i := range 2 * n {
		count := func(into *[2]int64, f func()) {
			trips, begins := proxy.trips.Load(), proxy.begins.Load()
			f()
			if i >= n { // the first n prepare the statements on the connections
				into[0] += proxy.trips.Load() - trips
				into[1] += proxy.begins.Load() - begins
			}
		}
		var session, csrf string
		count(&pw, func() {
			session, csrf = sessionCookies(post("/api/v1/login", map[string]string{"email": emails[i], "password": benchPassword}, "", ""))
		})
		code, _ := authn.TOTPCode(benchTOTPSecret, time.Now()) // each account uses one
		count(&second, func() {
			post("/api/v1/login/two_factor", map[string]string{"two_factor": code}, session, csrf)
		})
	}
	for _, c := range []struct {
		name          string
		got           [2]int64
		trips, begins float64 // at most, per login
	}{
		{"password step", pw, 6, 2},
		{"code step", second, 8, 1},
	} {
		trips, begins := float64(c.got[0])/n, float64(c.got[1])/n
		t.Logf("%s: %.1f database round trips, %.1f transactions per login", c.name, trips, begins)
		if trips >= c.trips+1 { // the slack of TestLoginRoundTrips
			t.Errorf("%s: %.1f round trips per login, want at most %.0f", c.name, trips, c.trips)
		}
		if begins > c.begins {
			t.Errorf("%s: %.1f transactions per login, want at most %.0f", c.name, begins, c.begins)
		}
	}
}
