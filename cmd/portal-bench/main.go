// Command portal-bench measures Portal's throughput against the limits of
// the machine it runs on, in one run, and prints a Markdown table.
//
//	go run ./cmd/portal-bench                       # Portal in-process on a new SQLite file
//	go run ./cmd/portal-bench -db 'postgres://…'    # in-process on a new schema of that database
//	go run ./cmd/portal-bench -url http://host:8080 -db 'postgres://…'   # a running Portal on that database
//
// It seeds -users verified accounts (at least 64, one per login connection) straight into the database (bulk, one
// precomputed password hash), then runs fixed concurrency × -duration
// scenarios through one load client (net/http with keep-alive, one
// goroutine per connection): password login at 2 and 64 clients, session
// and API-token GET /api/v1/self, PUT /api/v1/self and an organization
// page. In the same run it measures the two limits the figures are
// compared with: (a) argon2id hashes per second with Portal's parameters
// on all cores, and (b) a bare net/http handler that checks a cookie in a
// map and answers a JSON body the size of GET /api/v1/self's, through the
// same load client; (a) is sampled three times around the login rows
// and the best sample taken. Each row shows req/s, its limit, the ratio, errors,
// p50/p99 latency and the resident memory of this process after the row
// (with -url, only the load client's).
//
// With PostgreSQL, the run uses a new schema of the database given, which
// it drops at the end (-keep keeps it). With -url, -db must name the
// database that server uses, so that the accounts can be seeded into it.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/server"
	"portal/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portal-bench:", err)
		os.Exit(1)
	}
}

// portalHasher makes the password hasher of the Portal under test and of
// the seeded hashes: Portal's own parameters. The command's test uses
// cheap ones, so that 64 logins queued on a busy machine do not outlast
// the store's time bound (it checks rows and errors, not speed).
var portalHasher = authn.DefaultHasher

// benchPassword is every seeded account's password.
const benchPassword = "Bench-Pass-7q!x"

type options struct {
	db       string
	url      string
	users    int
	duration time.Duration
	keep     bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.db, "db", "", "database: empty for a new SQLite file in a temporary folder, a SQLite file path, or postgres://… (a new schema in it)")
	fs.StringVar(&o.url, "url", "", "base URL of a running Portal to measure instead of one in-process (-db must then name its database)")
	fs.IntVar(&o.users, "users", 1000, "verified accounts to seed")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "duration of each scenario")
	fs.BoolVar(&o.keep, "keep", false, "keep the PostgreSQL schema (or SQLite folder) after the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.users < 1 {
		return errors.New("-users must be at least 1")
	}
	if o.url != "" && o.db == "" {
		return errors.New("-url needs -db, the database of that Portal, to seed the accounts into")
	}

	load1 := loadAvg()
	db, dbName, cleanup, err := openDB(ctx, o)
	if err != nil {
		return err
	}
	defer cleanup()

	base := strings.TrimSuffix(o.url, "/")
	if base == "" {
		srv, addr, err := startPortal(db)
		if err != nil {
			return err
		}
		defer srv.Close()
		base = "http://" + addr
	}

	// One account per login connection at least: the per-account throttle
	// counts attempts still being checked, and it is not what is measured.
	emails, err := seed(ctx, db, max(o.users, 64), stderr)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Sessions, API tokens and organizations for the authenticated rows:
	// one per connection of the widest scenario (or fewer accounts).
	k := min(o.users, 64)
	accts, err := prepare(ctx, base, emails[:k])
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}

	var rows []row
	add := func(r row) {
		r.rss = rssMiB()
		rows = append(rows, r)
		fmt.Fprintf(stderr, "%-40s %9.1f req/s, %d errors\n", r.name, r.rate, r.errors)
	}

	// (a) is sampled before, between and after the login rows, and the
	// best sample is the limit: on a shared machine one sample can fall on
	// a busy moment.
	hashRow := row{name: "(a) argon2id hashes/s, all cores, best of 3", rate: hashRate(ctx, o.duration)}
	add(hashRow)

	bare, bareAddr, err := startBare(accts)
	if err != nil {
		return err
	}
	defer bare.Close()
	b := load(ctx, 64, o.duration, func(conn int, _ int64) *http.Request {
		req, _ := http.NewRequest("GET", "http://"+bareAddr+"/api/v1/self", nil)
		req.Header.Set("Cookie", "sessionid="+accts[conn%len(accts)].session)
		return req
	})
	b.name = "(b) bare net/http, cookie in a map, c=64"
	add(b)

	// Connection conn of c logs in as accounts conn, conn+c, conn+2c, …:
	// never two attempts on one account at once.
	var turns [64]int
	login := func(c int) func(int, int64) *http.Request {
		return func(conn int, _ int64) *http.Request {
			i := (conn + turns[conn]*c) % len(emails)
			turns[conn]++
			body, _ := json.Marshal(map[string]string{"email": emails[i], "password": benchPassword})
			req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			return req
		}
	}
	var logins []row
	for _, c := range []int{2, 64} {
		turns = [64]int{}
		r := load(ctx, c, o.duration, login(c))
		r.name = fmt.Sprintf("password login, c=%d", c)
		r.rss = rssMiB()
		logins = append(logins, r)
		hashRow.rate = max(hashRow.rate, hashRate(ctx, o.duration))
	}
	rows[0].rate = hashRow.rate
	for _, r := range logins {
		r.limit, r.limitName = hashRow.rate, "(a)"
		rows = append(rows, r)
		fmt.Fprintf(stderr, "%-40s %9.1f req/s, %d errors\n", r.name, r.rate, r.errors)
	}

	r := load(ctx, 64, o.duration, func(conn int, _ int64) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		accts[conn%len(accts)].cookies(req)
		return req
	})
	r.name, r.limit, r.limitName = "session GET /api/v1/self, c=64", b.rate, "(b)"
	add(r)

	r = load(ctx, 64, o.duration, func(conn int, _ int64) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		req.Header.Set("Authorization", "Token "+accts[conn%len(accts)].token)
		return req
	})
	r.name, r.limit, r.limitName = "token GET /api/v1/self, c=64", b.rate, "(b)"
	add(r)

	r = load(ctx, 64, o.duration, func(conn int, n int64) *http.Request {
		body := fmt.Sprintf(`{"first_name":"Bench %d"}`, n)
		req, _ := http.NewRequest("PUT", base+"/api/v1/self", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		accts[conn%len(accts)].cookies(req)
		return req
	})
	r.name, r.limit, r.limitName = "session PUT /api/v1/self, c=64", b.rate, "(b)"
	add(r)

	r = load(ctx, 64, o.duration, func(conn int, _ int64) *http.Request {
		a := accts[conn%len(accts)]
		req, _ := http.NewRequest("GET", base+"/api/v1/orgs/"+a.orgID, nil)
		a.cookies(req)
		return req
	})
	r.name, r.limit, r.limitName = "session GET /api/v1/orgs/{org_id}, c=64", b.rate, "(b)"
	add(r)

	if ctx.Err() != nil {
		return ctx.Err()
	}
	where := "in-process"
	if o.url != "" {
		where = o.url
	}
	fmt.Fprintf(stdout, "Portal %s on %s, %d verified accounts, %s per scenario, %s\n", where, dbName, len(emails), o.duration, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(stdout, "Machine: %s, %d cores (GOMAXPROCS %d), %s/%s; load average %s at start, %s at end\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, load1, loadAvg())
	printTable(stdout, rows)
	return nil
}

// openDB opens and migrates the database of the run, seeding target.
func openDB(ctx context.Context, o options) (db *store.DB, name string, cleanup func(), err error) {
	cleanup = func() {}
	dsn := o.db
	switch {
	case dsn == "":
		dir, err := os.MkdirTemp("", "portal-bench-")
		if err != nil {
			return nil, "", nil, err
		}
		if !o.keep {
			cleanup = func() { os.RemoveAll(dir) }
		}
		dsn, name = filepath.Join(dir, "portal.db"), "SQLite"
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		name = "PostgreSQL"
		if o.url == "" {
			admin, err := store.Open(ctx, dsn)
			if err != nil {
				return nil, "", nil, err
			}
			var b [4]byte
			_, _ = rand.Read(b[:])
			schema := "bench_" + hex.EncodeToString(b[:])
			if err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
				admin.Close()
				return nil, "", nil, fmt.Errorf("create schema: %w", err)
			}
			cleanup = func() {
				if !o.keep {
					_ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
				}
				admin.Close()
			}
			u, err := url.Parse(dsn)
			if err != nil {
				cleanup()
				return nil, "", nil, err
			}
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	default:
		name = "SQLite"
	}
	db, err = store.Open(ctx, dsn)
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	if o.url == "" {
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			cleanup()
			return nil, "", nil, err
		}
	}
	prev := cleanup
	return db, name, func() { db.Close(); prev() }, nil
}

// startPortal serves Portal on db at a loopback address, with the
// production password hasher.
func startPortal(db *store.DB) (*http.Server, string, error) {
	logger := slog.New(slog.DiscardHandler)
	key := make([]byte, authn.KeySize)
	_, _ = rand.Read(key)
	box, err := authn.NewSecretBox(key)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	base := "http://" + ln.Addr().String()
	svc := app.New(app.Options{DB: db, Hasher: portalHasher(), BaseURL: base, Logger: logger, SecretBox: box})
	h, err := server.NewServer(server.Options{Service: svc, Logger: logger, Ready: db.Ready})
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}

// seed inserts n verified accounts with benchPassword, 1,000 per
// transaction, printing its progress on one line.
func seed(ctx context.Context, db *store.DB, n int, progress io.Writer) ([]string, error) {
	hash, err := portalHasher().Hash(ctx, benchPassword)
	if err != nil {
		return nil, err
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	emails := make([]string, n)
	now := time.Now().UTC()
	const batch = 1000
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		err := db.Write(ctx, func(tx *store.Tx) error {
			for i := start; i < end; i++ {
				emails[i] = fmt.Sprintf("bench-%s-%d@example.com", run, i)
				u := &portal.User{ID: uuid.NewString(), Email: emails[i], FirstName: "Bench", LastName: strconv.Itoa(i),
					PasswordHash: hash, EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "\rseeding accounts %d/%d", end, n)
	}
	fmt.Fprintln(progress)
	return emails, nil
}

// account is a logged-in seeded account with an API token and an
// organization of its own.
type account struct {
	session, csrf, token, orgID string
}

func (a *account) cookies(req *http.Request) {
	req.Header.Set("Cookie", "sessionid="+a.session+"; csrftoken="+a.csrf)
	req.Header.Set("X-CSRFToken", a.csrf)
}

// prepare logs each of emails in through the API, creates an API token and
// an organization for it.
func prepare(ctx context.Context, base string, emails []string) ([]*account, error) {
	c := &http.Client{Timeout: time.Minute}
	call := func(a *account, method, path string, body any, out any) (*http.Response, error) {
		j, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(j))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if a.session != "" {
			a.cookies(req)
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %s %s", method, path, resp.Status, data)
		}
		return resp, json.Unmarshal(data, out)
	}
	accts := make([]*account, len(emails))
	errs := make([]error, len(emails))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, email := range emails {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a := &account{}
			resp, err := call(a, "POST", "/api/v1/login", map[string]string{"email": email, "password": benchPassword}, &struct{}{})
			if err != nil {
				errs[i] = err
				return
			}
			for _, ck := range resp.Cookies() {
				switch ck.Name {
				case "sessionid":
					a.session = ck.Value
				case "csrftoken":
					a.csrf = ck.Value
				}
			}
			var tok struct {
				Key string `json:"key"`
			}
			if _, err := call(a, "POST", "/api/v1/self/apitokens", map[string]string{"name": "bench"}, &tok); err != nil {
				errs[i] = err
				return
			}
			var org struct {
				ID string `json:"id"`
			}
			if _, err := call(a, "POST", "/api/v1/orgs", map[string]string{"name": "Bench " + strconv.Itoa(i)}, &org); err != nil {
				errs[i] = err
				return
			}
			a.token, a.orgID = tok.Key, org.ID
			accts[i] = a
		})
	}
	wg.Wait()
	return accts, errors.Join(errs...)
}

// hashRate is argon2id hashes per second with Portal's parameters, one
// hash at a time on each core, for d.
func hashRate(ctx context.Context, d time.Duration) float64 {
	h := authn.NewHasher(authn.DefaultMemoryKiB, authn.DefaultTime, authn.DefaultThreads, runtime.NumCPU())
	var n atomic.Int64
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				if _, err := h.Hash(ctx, benchPassword); err == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// startBare serves the limit (b): GET /api/v1/self checks the sessionid
// cookie in a map and answers a fixed JSON body of about 300 bytes.
func startBare(accts []*account) (*http.Server, string, error) {
	var mu sync.RWMutex
	sessions := map[string]string{}
	for _, a := range accts {
		sessions[a.session] = a.orgID
	}
	body := []byte(`{"admin_id":"6f1c2f5e-3b1a-4c59-9a53-2d7f0e1b8c44","email":"bench@example.com","first_name":"Bench","last_name":"User","phone":"","enable_two_factor":false,"two_factor_verified":false,"oauth_google":false,"via_sso":false,"password_modified_time":1764201600,"session_expiry":1440,"tags":[],"privileges":[],"mac_format":"xx:xx:xx:xx:xx:xx"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/self", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sessionid")
		if err != nil {
			http.Error(w, `{"detail":"authentication required"}`, http.StatusUnauthorized)
			return
		}
		mu.RLock()
		_, ok := sessions[c.Value]
		mu.RUnlock()
		if !ok {
			http.Error(w, `{"detail":"authentication required"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}

// row is one line of the table.
type row struct {
	name      string
	rate      float64 // per second
	limit     float64 // 0: this row is a limit
	limitName string
	requests  int64
	errors    int64
	p50, p99  time.Duration
	rss       float64 // MiB
}

// load runs c connections, each a goroutine with a keep-alive connection
// of its own sending the request mk makes, one after another, for d. An
// answer other than 200 or a transport error counts as an error.
func load(ctx context.Context, c int, d time.Duration, mk func(conn int, n int64) *http.Request) row {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		ok, bad  int64
		firstErr string
		n        atomic.Int64
	)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for conn := range c {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: time.Minute,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			var my []time.Duration
			var myOK, myBad int64
			var myErr string
			for time.Now().Before(end) && ctx.Err() == nil {
				req := mk(conn, n.Add(1))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var data []byte
					if resp.StatusCode != http.StatusOK {
						data, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
						err = fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(data))
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				my = append(my, time.Since(t0))
				if err != nil {
					myBad++
					if myErr == "" {
						myErr = err.Error()
					}
					continue
				}
				myOK++
			}
			mu.Lock()
			lat = append(lat, my...)
			ok += myOK
			bad += myBad
			if firstErr == "" {
				firstErr = myErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != "" {
		fmt.Fprintf(os.Stderr, "first error: %s\n", firstErr)
	}
	slices.Sort(lat)
	r := row{rate: float64(ok) / elapsed.Seconds(), requests: ok + bad, errors: bad}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | req/s | limit | ratio | errors | p50 | p99 | RSS |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		limit, ratio := "—", "—"
		if r.limit > 0 {
			limit = fmt.Sprintf("%s %s", r.limitName, rate(r.limit))
			ratio = fmt.Sprintf("%.2f ×", r.rate/r.limit)
		}
		errs, p50, p99 := "—", "—", "—"
		if r.requests > 0 {
			errs = fmt.Sprintf("%d / %d", r.errors, r.requests)
			p50, p99 = ms(r.p50), ms(r.p99)
		}
		rss := "—"
		if r.rss > 0 {
			rss = fmt.Sprintf("%.0f MiB", r.rss)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, rate(r.rate), limit, ratio, errs, p50, p99, rss)
	}
}

func rate(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// rssMiB is this process's resident memory (Linux), or 0.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// loadAvg is the one-minute load average (Linux), or "?".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// cpuModel is the processor's name (Linux), or the architecture.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "model name"); ok {
				return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
			}
		}
	}
	return runtime.GOARCH
}
