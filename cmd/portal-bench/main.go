// Command portal-bench measures Portal's throughput against the limits of
// the machine it runs on, in one run, and prints a Markdown table.
//
//	go run ./cmd/portal-bench                       # Portal in-process on a new SQLite file
//	go run ./cmd/portal-bench -db 'postgres://…'    # in-process on a new schema of that database
//	go run ./cmd/portal-bench -url http://host:8080 -db 'postgres://…'   # a running Portal on that database
//
// It seeds -users accounts (at least 128; -totp of them with verified
// TOTP), -orgs organizations with their members and sites, and -audit
// audit entries straight into the database in bulk (PostgreSQL COPY,
// SQLite multi-row INSERTs; one precomputed password hash), with a
// progress bar; seed.go describes the data set. It then runs fixed
// concurrency × -duration scenarios through one load client (net/http
// with keep-alive, one goroutine per connection): password login at 2 and
// 64 clients, login with the second-factor code at 2 and 64, session and
// API-token GET /api/v1/self, session GET /api/v1/self through -sessions
// seeded sessions in turn (each cached: the row's RSS is what that many
// sessions cost), PUT /api/v1/self, an organization page and the first
// page of its audit log. In the same run it measures the two
// limits the figures are compared with: (a) argon2id hashes per second
// with Portal's parameters on all cores, and (b) a bare net/http handler
// that checks a cookie in a map and answers a JSON body the size of GET
// /api/v1/self's, through the same load client; (a) is sampled before the
// first login row and after each, and a login row's limit is the mean of
// the two samples around it. Each row shows req/s (logins with a code:
// both requests as one), its limit, the ratio, errors, p50/p99 latency,
// the resident memory of this process after the row and the CPU used
// during it, in cores: this process's, of which its garbage collector's,
// and the whole machine's, of which the kernel's (cpu.go); with -url the
// process is only the load client, and the RSS of Portal's rows is the
// server's, read from its /metrics when it shows them to the load client
// (marked "(server)"). On PostgreSQL it then lists the tables
// the scenarios read with sequential scans.
//
// With PostgreSQL, the run uses a new schema of the database given (or
// -schema), which it drops at the end (-keep keeps it). A kept schema, or
// a SQLite file given with -db, serves later runs with -reuse: they check
// that it holds what the same sizes seed, skip the seeding and leave it in
// place. -seed-only stops after the seeding; -only login runs only (a)
// and the login rows, -only self only (b) and the three GET /api/v1/self
// rows. With -url, -db must name the
// database that server uses, so that the accounts can be seeded into it,
// and PORTAL_SECRET_KEY be its key, so that it can read the seeded second
// factors.
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
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// minUsers is the fewest accounts seeded: 64 without a second factor and
// 64 with, one per connection of the widest login scenarios (the
// per-account throttle counts attempts still being checked, and it is not
// what is measured).
const minUsers = 128

type options struct {
	db, url, schema, only    string
	users, orgs, audit, totp int
	sessions                 int
	duration                 time.Duration
	keep, reuse, seedOnly    bool
	log                      io.Writer // where openDB says what it kept (nil: nowhere)
}

// world is the data set the options ask for.
func (o options) world() (world, error) {
	w := world{users: max(o.users, minUsers), orgs: o.orgs, audit: o.audit, totp: o.totp, sessions: o.sessions}
	if w.orgs == 0 {
		w.orgs = max(1, w.users/10)
	}
	if w.audit == 0 {
		w.audit = 10 * w.users
	}
	if w.totp < 0 {
		w.totp = min(max(w.users/10, 1000), w.users/2)
	}
	switch {
	case w.orgs < 1 || w.orgs > w.users:
		return w, fmt.Errorf("-orgs must be between 1 and the number of accounts (%d)", w.users)
	case w.sessions < 1:
		return w, errors.New("-sessions must be at least 1")
	case w.audit < 0:
		return w, errors.New("-audit must not be negative")
	case w.totp < 64 || w.plain() < 64:
		return w, fmt.Errorf("-totp must leave at least 64 accounts with and 64 without a second factor (of %d)", w.users)
	}
	return w, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{log: stderr}
	fs.StringVar(&o.db, "db", "", "database: empty for a new SQLite file in a temporary folder, a SQLite file path, or postgres://… (a new schema in it)")
	fs.StringVar(&o.url, "url", "", "base URL of a running Portal to measure instead of one in-process (-db must then name its database)")
	fs.StringVar(&o.schema, "schema", "", "PostgreSQL: the schema to seed and run in (default: a new bench_… schema)")
	fs.IntVar(&o.users, "users", 1000, "verified accounts to seed (at least 128)")
	fs.IntVar(&o.orgs, "orgs", 0, "organizations to seed, with members and sites (0: a tenth of the accounts)")
	fs.IntVar(&o.audit, "audit", 0, "audit entries to seed (0: ten per account)")
	fs.IntVar(&o.totp, "totp", -1, "how many of the accounts have verified TOTP (-1: a tenth, at least 1000, at most half)")
	fs.IntVar(&o.sessions, "sessions", 10000, "sessions the last row reads through, each cached (seeded: at least this many, and one per odd account)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "duration of each scenario")
	fs.BoolVar(&o.keep, "keep", false, "keep the PostgreSQL schema (or SQLite folder) after the run, for -reuse")
	fs.BoolVar(&o.reuse, "reuse", false, "run on what an earlier run with the same sizes seeded and kept (-db file, or -db and -schema) instead of seeding")
	fs.BoolVar(&o.seedOnly, "seed-only", false, "seed, then stop without running the scenarios")
	fs.StringVar(&o.only, "only", "", "login: only (a) and the login rows (password, and with a TOTP code); self: only (b) and the GET /api/v1/self rows (session, token, many sessions)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the scenarios (Portal in-process and the load client) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.users < 1 {
		return errors.New("-users must be at least 1")
	}
	if o.only != "" && o.only != "login" && o.only != "self" {
		return errors.New("-only must be login or self")
	}
	w, err := o.world()
	if err != nil {
		return err
	}
	if o.url != "" && o.db == "" {
		return errors.New("-url needs -db, the database of that Portal, to seed the accounts into")
	}
	if strings.Trim(o.schema, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return errors.New("-schema must be lower-case letters, digits and _")
	}
	if o.reuse && (o.db == "" || isPostgres(o.db) && o.schema == "" && o.url == "") {
		return errors.New("-reuse needs the database seeded before: -db with its SQLite file, or -db postgres://… with -schema")
	}
	box, err := benchBox()
	if err != nil {
		return err
	}

	load1 := loadAvg()
	db, dbName, cleanup, err := openDB(ctx, o)
	if err != nil {
		return err
	}
	defer cleanup()

	if o.reuse {
		if err := checkWorld(ctx, db, w); err != nil {
			return err
		}
	} else if err := seedWorld(ctx, db, w, box, stderr); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if o.seedOnly {
		return nil
	}

	base := strings.TrimSuffix(o.url, "/")
	if base == "" {
		srv, addr, err := startPortal(db)
		if err != nil {
			return err
		}
		defer srv.Close()
		base = "http://" + addr
	}

	// Sessions and API tokens for the authenticated rows: one per
	// connection of the widest scenario (or fewer accounts), each a Super
	// User of an organization of its own.
	emails := make([]string, min(o.users, 64, w.orgs))
	if o.only == "login" {
		emails = nil
	}
	for i := range emails {
		emails[i] = w.email(i)
	}
	accts, err := prepare(ctx, base, emails)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	scans, err := db.ScanCounts(ctx)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	waited, busy := settle(min(30*time.Second, 6*o.duration))
	quiet := fmt.Sprintf("%.2f cores busy after a wait of %.1f s for the machine to go quiet", busy, waited.Seconds())
	fmt.Fprintln(stderr, quiet)
	if o.only != "self" {
		hashRate(ctx, min(time.Second, o.duration)) // a warm-up, not measured: the heap grows to what hashing needs
	}

	var rows []row

	// Each limit is sampled before the first row compared with it and after
	// each such row, and a row's limit is the mean of the samples just before
	// and just after it. On a shared machine the rates move by a tenth or
	// more from one sample to the next (and by a third over the length of a
	// run), so a row compared with a sample taken a minute earlier would
	// measure the host's drift as much as Portal. The table's (a) and (b)
	// rows are the means of all their samples; the report lists each.
	hashes := &limit{name: "(a)", row: hashRowName, measure: func() row { return hashRate(ctx, o.duration) }}
	if o.only != "self" {
		rows = append(rows, row{name: hashRowName}) // the samples' mean (report)
	}
	bare := &limit{name: "(b)", row: bareRowName}
	if o.only != "login" {
		srv, bareAddr, err := startBare(accts)
		if err != nil {
			return err
		}
		defer srv.Close()
		bare.measure = func() row {
			r := load(ctx, 64, o.duration, send(func(conn int, _ int64) *http.Request {
				req, _ := http.NewRequest("GET", "http://"+bareAddr+"/api/v1/self", nil)
				req.Header.Set("Cookie", "sessionid="+accts[conn%len(accts)].session)
				return req
			}))
			r.rss = rssMiB()
			return r
		}
		rows = append(rows, row{name: bareRowName}) // the samples' mean (report)
	}
	// compared adds r, measured just after lim's last sample, with its
	// limit: the mean of that sample and one taken now.
	compared := func(lim *limit, r row) {
		r.rss = rssMiB()
		if o.url != "" { // Portal is another process: its RSS, if its /metrics answer
			if rss, ok := serverRSS(base); ok {
				r.rss, r.serverRSS = rss, true
			}
		}
		lim.compare(&r)
		rows = append(rows, r)
		fmt.Fprintf(stderr, "%-48s %9.1f req/s, %d errors\n", r.name, r.rate, r.errors)
		fmt.Fprintf(stderr, "%-48s %9.1f req/s\n", lim.name+" sample", lim.last().rate)
	}
	first := func(lim *limit) {
		lim.sample()
		fmt.Fprintf(stderr, "%-48s %9.1f req/s\n", lim.name+" sample", lim.last().rate)
	}

	if o.only != "self" {
		first(hashes)
		// Connection conn of c logs in as the (conn + turn·c)-th account
		// without a second factor, spread over all of them: never two attempts
		// on one account at once.
		//
		// With spreadAddrs each connection comes from an address of its own,
		// as users behind a load balancer do (X-Forwarded-For, which the
		// in-process Portal trusts from the loopback address); without, all
		// come from one address, as users behind one NAT do, and every login
		// writes that address's attempt counter twice.
		var turns [64]int
		login := func(c int, spreadAddrs bool) op {
			return send(func(conn int, _ int64) *http.Request {
				i := spread(conn+turns[conn]*c, w.plain())
				turns[conn]++
				return loginRequest(base, w.email(i), conn, spreadAddrs)
			})
		}
		for _, sc := range []struct {
			c           int
			spreadAddrs bool
		}{{2, false}, {64, false}, {64, true}} {
			turns = [64]int{}
			r := load(ctx, sc.c, o.duration, login(sc.c, sc.spreadAddrs))
			r.name = fmt.Sprintf("password login, c=%d", sc.c)
			if sc.spreadAddrs {
				r.name += ", an address per client"
			}
			compared(hashes, r)
		}

		codes := newTOTPPool(w)
		for _, c := range []int{2, 64} {
			r := load(ctx, c, o.duration, codes.login(base))
			r.name = fmt.Sprintf("login + TOTP code, c=%d", c)
			compared(hashes, r)
		}
	}

	if o.only == "login" {
		return report(stdout, o, w, dbName, load1, quiet, rows, []*limit{hashes}, nil, nil)
	}

	first(bare)
	// request runs 64 connections for the run's duration, each sending
	// what req makes for it, and adds the row, compared with (b).
	request := func(name string, req func(conn int, n int64) *http.Request) {
		r := load(ctx, 64, o.duration, send(req))
		r.name = name
		compared(bare, r)
	}

	request("session GET /api/v1/self, c=64", func(conn int, _ int64) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		accts[conn%len(accts)].cookies(req)
		return req
	})
	request("token GET /api/v1/self, c=64", func(conn int, _ int64) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		req.Header.Set("Authorization", "Token "+accts[conn%len(accts)].token)
		return req
	})
	// Many users at once: each request reads through the next of
	// o.sessions seeded sessions. One request per session first, not
	// measured, slides each (a write) and fills the authentication cache
	// with all of them; the row's RSS is Portal's with that many sessions
	// cached.
	many := make([]string, o.sessions)
	for k := range many {
		many[k] = sessionToken(k)
	}
	if err := touchSessions(ctx, base, many); err != nil {
		return fmt.Errorf("the seeded sessions (a database seeded more than a day before holds expired ones: seed it again): %w", err)
	}
	request(fmt.Sprintf("session GET /api/v1/self, c=64, %d sessions", len(many)), func(_ int, n int64) *http.Request {
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		req.Header.Set("Cookie", "sessionid="+many[n%int64(len(many))])
		return req
	})

	if o.only == "self" {
		return report(stdout, o, w, dbName, load1, quiet, rows, []*limit{bare}, nil, nil)
	}

	request("session PUT /api/v1/self, c=64", func(conn int, n int64) *http.Request {
		body := fmt.Sprintf(`{"first_name":"Bench %d"}`, n)
		req, _ := http.NewRequest("PUT", base+"/api/v1/self", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		accts[conn%len(accts)].cookies(req)
		return req
	})

	// Reads while someone writes: one connection edits its own profile
	// without pause while the 63 others read theirs. Each edit concerns
	// only its user, so the others' cached authentication must stand.
	request("session GET /api/v1/self, c=63, beside PUT /self, c=1", func(conn int, n int64) *http.Request {
		a := accts[conn%len(accts)]
		if conn == 0 {
			body := fmt.Sprintf(`{"first_name":"Bench %d"}`, n)
			req, _ := http.NewRequest("PUT", base+"/api/v1/self", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			a.cookies(req)
			return req
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/self", nil)
		a.cookies(req)
		return req
	})

	request("session GET /api/v1/orgs/{org_id}, c=64", func(conn int, _ int64) *http.Request {
		a := accts[conn%len(accts)]
		req, _ := http.NewRequest("GET", base+"/api/v1/orgs/"+a.orgID, nil)
		a.cookies(req)
		return req
	})

	request("session GET /api/v1/orgs/{org_id}/logs, c=64", func(conn int, _ int64) *http.Request {
		a := accts[conn%len(accts)]
		req, _ := http.NewRequest("GET", base+"/api/v1/orgs/"+a.orgID+"/logs", nil)
		a.cookies(req)
		return req
	})

	if ctx.Err() != nil {
		return ctx.Err()
	}
	after, err := db.ScanCounts(ctx)
	if err != nil {
		return err
	}
	return report(stdout, o, w, dbName, load1, quiet, rows, []*limit{hashes, bare}, scans, after)
}

// report prints the run's heading, its table and, given scan counts, the
// tables read with sequential scans. Each limit's row in rows becomes the
// mean of its samples.
func report(stdout io.Writer, o options, w world, dbName, load1, quiet string, rows []row, limits []*limit, scans, after map[string]store.TableScans) error {
	where := "in-process"
	if o.url != "" {
		where = o.url
	}
	fmt.Fprintf(stdout, "Portal %s on %s: %s accounts (%s with TOTP), %s organizations, %s audit entries; %s per scenario, %s\n",
		where, dbName, count(int64(w.users)), count(int64(w.totp)), count(int64(w.orgs)), count(int64(w.audit)), o.duration, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(stdout, "Machine: %s, %d cores (GOMAXPROCS %d), %s/%s; load average %s at start, %s at end; before the first row, %s\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, load1, loadAvg(), quiet)
	for _, l := range limits {
		if len(l.samples) == 0 {
			continue
		}
		for i := range rows {
			if rows[i].name == l.row {
				rows[i] = l.mean()
			}
		}
		samples := make([]string, len(l.samples))
		for i, h := range l.samples {
			samples[i] = rate(h.rate)
		}
		fmt.Fprintf(stdout, "%s samples, one before the first row compared with it and one after each, each such row's limit the mean of the two around it: %s\n\n",
			l.name, strings.Join(samples, ", "))
	}
	printTable(stdout, rows)
	printScans(stdout, scans, after)
	return nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDB opens and migrates the database of the run, seeding target.
func openDB(ctx context.Context, o options) (db *store.DB, name string, cleanup func(), err error) {
	cleanup = func() {}
	stderr := o.log
	if stderr == nil {
		stderr = io.Discard
	}
	dsn := o.db
	switch {
	case dsn == "":
		dir, err := os.MkdirTemp("", "portal-bench-")
		if err != nil {
			return nil, "", nil, err
		}
		dsn, name = filepath.Join(dir, "portal.db"), "SQLite"
		cleanup = func() { os.RemoveAll(dir) }
		if o.keep {
			cleanup = func() { fmt.Fprintf(stderr, "kept %s: run again with -db %s -reuse\n", dir, dsn) }
		}
	case isPostgres(dsn):
		name = "PostgreSQL"
		if o.url == "" {
			admin, err := store.Open(ctx, dsn)
			if err != nil {
				return nil, "", nil, err
			}
			schema := o.schema
			if schema == "" {
				var b [4]byte
				_, _ = rand.Read(b[:])
				schema = "bench_" + hex.EncodeToString(b[:])
			}
			if !o.reuse {
				if err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
					admin.Close()
					return nil, "", nil, fmt.Errorf("create schema %s (to run on what it holds: -reuse): %w", schema, err)
				}
			}
			cleanup = func() {
				switch {
				case o.reuse:
				case o.keep:
					fmt.Fprintf(stderr, "kept schema %s: run again with -schema %s -reuse; drop it with DROP SCHEMA %s CASCADE\n", schema, schema, schema)
				default:
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
// production password hasher and the benchmark's key for the second
// factors' secrets (benchKey). It logs as portal serve does (a line of
// text per request, among others), to the null device: the cost of
// formatting and writing each line is measured, nothing is kept.
func startPortal(db *store.DB) (*http.Server, string, error) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, "", err
	}
	logger := slog.New(slog.NewTextHandler(devNull, nil))
	box, err := benchBox()
	if err != nil {
		devNull.Close()
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		devNull.Close()
		return nil, "", err
	}
	base := "http://" + ln.Addr().String()
	svc := app.New(app.Options{DB: db, Hasher: portalHasher(), BaseURL: base, Logger: logger, SecretBox: box})
	// The load client stands for the load balancer: its X-Forwarded-For
	// is trusted, as PORTAL_TRUSTED_PROXIES would make it.
	h, err := server.NewServer(server.Options{Service: svc, Logger: logger, Ready: db.Ready,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		ln.Close()
		devNull.Close()
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second} // devNull stays open as long as the process
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}

// account is a logged-in seeded account with an API token, a Super User
// of orgID.
type account struct {
	session, csrf, token, orgID string
}

func (a *account) cookies(req *http.Request) {
	req.Header.Set("Cookie", "sessionid="+a.session+"; csrftoken="+a.csrf)
	req.Header.Set("X-CSRFToken", a.csrf)
}

// prepare logs each of emails in through the API, creates an API token
// for it and finds an organization of which it is a Super User.
func prepare(ctx context.Context, base string, emails []string) ([]*account, error) {
	c := &http.Client{Timeout: time.Minute}
	call := func(a *account, method, path string, body any, out any) (*http.Response, error) {
		var r io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			r = bytes.NewReader(j)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, r)
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
	// Token names are unique per account: a run on a reused database
	// adds its own.
	tokenName := "bench " + time.Now().UTC().Format("2006-01-02 15:04:05.000")
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
			a.session, a.csrf = sessionCookies(resp)
			var tok struct {
				Key string `json:"key"`
			}
			if _, err := call(a, "POST", "/api/v1/self/apitokens", map[string]string{"name": tokenName}, &tok); err != nil {
				errs[i] = err
				return
			}
			var self struct {
				Privileges []struct {
					Scope string `json:"scope"`
					Role  string `json:"role"`
					OrgID string `json:"org_id"`
				} `json:"privileges"`
			}
			if _, err := call(a, "GET", "/api/v1/self", nil, &self); err != nil {
				errs[i] = err
				return
			}
			for _, p := range self.Privileges {
				if p.Scope == "org" && p.Role == "admin" && a.orgID == "" {
					a.orgID = p.OrgID
				}
			}
			if a.orgID == "" {
				errs[i] = fmt.Errorf("%s is a Super User of no organization", email)
				return
			}
			a.token = tok.Key
			accts[i] = a
		})
	}
	wg.Wait()
	return accts, errors.Join(errs...)
}

// touchSessions sends GET /api/v1/self once with each session token, 64
// at a time, and fails on the first answer other than 200.
func touchSessions(ctx context.Context, base string, tokens []string) error {
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	errs := make([]error, 64)
	var wg sync.WaitGroup
	for g := range errs {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < len(tokens) && ctx.Err() == nil && errs[g] == nil; k = int(next.Add(1) - 1) {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/self", nil)
				req.Header.Set("Cookie", "sessionid="+tokens[k])
				resp, err := client.Do(req)
				if err != nil {
					errs[g] = err
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs[g] = fmt.Errorf("seeded session %d: GET /api/v1/self: %s %s", k, resp.Status, body)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sessionCookies returns the sessionid and csrftoken cookies resp sets.
func sessionCookies(resp *http.Response) (session, csrf string) {
	for _, ck := range resp.Cookies() {
		switch ck.Name {
		case "sessionid":
			session = ck.Value
		case "csrftoken":
			csrf = ck.Value
		}
	}
	return session, csrf
}

// spread maps k to one of n accounts, visiting all n before any twice and
// spread over them, so that a scenario reads the whole table, not its
// first rows (1,000,003 is prime; n must not be a multiple of it).
func spread(k, n int) int { return int(uint64(k) * 1_000_003 % uint64(n)) }

// totpPool hands out the accounts with a second factor for logins with a
// code. Portal accepts a code only for a TOTP step newer than the last one
// the account used, within a step of the present: an account logs in at
// most twice at once (this step and the next), then once per step. The
// pool remembers each account's last step and never gives one account to
// two connections at once.
type totpPool struct {
	w    world
	mu   sync.Mutex
	next int
	last []int64
	busy []bool
}

func newTOTPPool(w world) *totpPool {
	return &totpPool{w: w, last: make([]int64, w.totp), busy: make([]bool, w.totp)}
}

func (p *totpPool) take() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := authn.TOTPStep(time.Now())
	for range len(p.last) {
		a := p.next
		p.next = (p.next + 1) % len(p.last)
		if !p.busy[a] && p.last[a] <= cur {
			p.busy[a] = true
			return a, nil
		}
	}
	return 0, fmt.Errorf("all %d accounts with TOTP are busy or used their codes of this 30-second step: seed more (-totp)", len(p.last))
}

// code returns the code of account a for the present step, or the next
// one if a used the present one, and records it as used.
func (p *totpPool) code(a int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	step := max(authn.TOTPStep(time.Now()), p.last[a]+1)
	p.last[a] = step
	code, _ := authn.TOTPCode(benchTOTPSecret, time.Unix(step*authn.TOTPPeriod, 0))
	return code
}

func (p *totpPool) release(a int) {
	p.mu.Lock()
	p.busy[a] = false
	p.mu.Unlock()
}

// login is the scenario's operation: POST /api/v1/login with the password,
// then POST /api/v1/login/two_factor with the code in that session.
func (p *totpPool) login(base string) op {
	return func(c *http.Client, _ int, _ int64) error {
		a, err := p.take()
		if err != nil {
			return err
		}
		defer p.release(a)
		body, _ := json.Marshal(map[string]string{"email": p.w.email(p.w.plain() + spread(a, p.w.totp)), "password": benchPassword})
		req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := do(c, req)
		if err != nil {
			return err
		}
		session, csrf := sessionCookies(resp)
		body, _ = json.Marshal(map[string]string{"two_factor": p.code(a)})
		req, _ = http.NewRequest("POST", base+"/api/v1/login/two_factor", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		(&account{session: session, csrf: csrf}).cookies(req)
		_, err = do(c, req)
		return err
	}
}

// loginRequest is connection conn's POST /api/v1/login as email, from
// an address of the connection's own (X-Forwarded-For) with spreadAddrs.
func loginRequest(base, email string, conn int, spreadAddrs bool) *http.Request {
	body, _ := json.Marshal(map[string]string{"email": email, "password": benchPassword})
	req, _ := http.NewRequest("POST", base+"/api/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if spreadAddrs {
		req.Header.Set("X-Forwarded-For", clientAddr(conn))
	}
	return req
}

// clientAddr is the address of connection conn when each has its own.
func clientAddr(conn int) string { return fmt.Sprintf("10.1.%d.%d", conn/200, conn%200+1) }

const (
	hashRowName = "(a) argon2id hashes/s, all cores, mean of the samples"
	bareRowName = "(b) bare net/http, cookie in a map, c=64, mean of the samples"
)

// limit is one of the machine's limits, (a) or (b), sampled before the
// first row compared with it and after each such row.
type limit struct {
	name    string // "(a)"
	row     string // the name of the row of its samples' mean
	measure func() row
	samples []row
}

func (l *limit) sample()   { l.samples = append(l.samples, l.measure()) }
func (l *limit) last() row { return l.samples[len(l.samples)-1] }

// compare samples l again, after r, and sets r's limit to the mean of the
// samples just before and just after it.
func (l *limit) compare(r *row) {
	before := l.last()
	l.sample()
	r.limit, r.limitName = (before.rate+l.last().rate)/2, l.name
}

// mean is the row of the samples' mean.
func (l *limit) mean() row { return meanRate(l.row, l.samples) }

// meanRate is the mean of samples' rates, latencies and CPU use, with
// their requests and errors added up and the largest RSS, as a row named
// name.
func meanRate(name string, samples []row) row {
	r := row{name: name}
	for _, s := range samples {
		r.rate += s.rate / float64(len(samples))
		r.requests += s.requests
		r.errors += s.errors
		r.p50 += s.p50 / time.Duration(len(samples))
		r.p99 += s.p99 / time.Duration(len(samples))
		r.rss = max(r.rss, s.rss)
		r.cpu.process += s.cpu.process / float64(len(samples))
		r.cpu.gc += s.cpu.gc / float64(len(samples))
		r.cpu.machine += s.cpu.machine / float64(len(samples))
		r.cpu.kernel += s.cpu.kernel / float64(len(samples))
	}
	return r
}

// hashRate is argon2id hashes per second with Portal's parameters, one
// hash at a time on each core, for d.
func hashRate(ctx context.Context, d time.Duration) row {
	h := authn.NewHasher(authn.DefaultMemoryKiB, authn.DefaultTime, authn.DefaultThreads, runtime.NumCPU())
	var n atomic.Int64
	cpu := takeCPU()
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
	return row{rate: float64(n.Load()) / time.Since(start).Seconds(), cpu: cpu.since(), rss: rssMiB()}
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
	serverRSS bool    // rss is the server's (-url), not this process's
	cpu       cpuUse
}

// op is one operation of a scenario: the n-th of the run, by connection
// conn, through that connection's client.
type op func(c *http.Client, conn int, n int64) error

// send is the operation of one request, made by mk.
func send(mk func(conn int, n int64) *http.Request) op {
	return func(c *http.Client, conn int, n int64) error {
		_, err := do(c, mk(conn, n))
		return err
	}
}

// do sends req and reads the answer to its end; an answer other than 200
// is an error.
func do(c *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp, fmt.Errorf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(data))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

// load runs c connections, each a goroutine with a keep-alive connection
// of its own doing the operation op, one after another, for d. An
// operation's error (an answer other than 200, a transport error) counts
// as an error.
func load(ctx context.Context, c int, d time.Duration, op op) row {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		ok, bad  int64
		firstErr string
		n        atomic.Int64
	)
	cpu := takeCPU()
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
				t0 := time.Now()
				err := op(client, conn, n.Add(1))
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
	used := cpu.since()
	if firstErr != "" {
		fmt.Fprintf(os.Stderr, "first error: %s\n", firstErr)
	}
	slices.Sort(lat)
	r := row{rate: float64(ok) / elapsed.Seconds(), requests: ok + bad, errors: bad, cpu: used}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)*50/100], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | req/s | limit | ratio | errors | p50 | p99 | RSS | CPU, cores: process (GC) / machine (kernel) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
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
			if r.serverRSS {
				rss += " (server)"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, rate(r.rate), limit, ratio, errs, p50, p99, rss, r.cpu)
	}
}

func rate(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// serverRSS is the resident memory of the Portal at base, in MiB, from
// its /metrics (process_resident_memory_bytes), which it shows to the load
// client when that is on its loopback or in PORTAL_METRICS_ALLOW; false
// when it does not.
func serverRSS(base string) (float64, bool) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			b, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return b / (1 << 20), err == nil && b > 0
		}
	}
	return 0, false
}

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

// printScans lists the tables whose rows the scenarios read with
// sequential scans (PostgreSQL's statistics between before and after),
// most rows read first: a hot query on a large table belongs on an index.
func printScans(w io.Writer, before, after map[string]store.TableScans) {
	type scans struct {
		table string
		store.TableScans
	}
	var list []scans
	for t, a := range after {
		b := before[t]
		if d := (store.TableScans{Seq: a.Seq - b.Seq, SeqRows: a.SeqRows - b.SeqRows, Index: a.Index - b.Index}); d.SeqRows > 0 {
			list = append(list, scans{t, d})
		}
	}
	if after == nil {
		return
	}
	fmt.Fprintln(w, "\nSequential scans during the scenarios (PostgreSQL statistics):")
	if len(list) == 0 {
		fmt.Fprintln(w, "none")
		return
	}
	slices.SortFunc(list, func(a, b scans) int { return int(b.SeqRows - a.SeqRows) })
	fmt.Fprintln(w, "\n| table | sequential scans | rows read | index scans |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, s := range list {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", s.table, count(s.Seq), count(s.SeqRows), count(s.Index))
	}
}
