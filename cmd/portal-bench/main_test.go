package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBenchTable runs the benchmark for a fraction of a second and checks
// that it prints the table with every row and that no request failed. It
// checks no timing; Portal hashes with cheap argon2id parameters here (the
// (a) row still measures Portal's). 500 accounts with TOTP give the two
// rows of logins with a code 1,000 codes of this step and the next, more
// than fast hashing lets them use in 150 ms.
func TestBenchTable(t *testing.T) {
	cheapHashes(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := filepath.Join(t.TempDir(), "portal.db")
		if d == store.Postgres {
			db = os.Getenv("PORTAL_TEST_POSTGRES_URL") // the run makes and drops a schema of its own
		}
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-db", db, "-users", "1000", "-orgs", "10", "-audit", "2000", "-totp", "500", "-sessions", "300", "-duration", "150ms"}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		t.Log("\n" + text)
		for _, name := range []string{
			hashRowName,
			bareRowName,
			"password login, c=2",
			"password login, c=64",
			"password login, c=64, an address per client",
			"login + TOTP code, c=2",
			"login + TOTP code, c=64",
			"session GET /api/v1/self, c=64",
			"token GET /api/v1/self, c=64",
			"session GET /api/v1/self, c=64, 300 sessions",
			"session PUT /api/v1/self, c=64",
			"session GET /api/v1/self, c=63, beside PUT /self, c=1",
			"session GET /api/v1/orgs/{org_id}, c=64",
			"session GET /api/v1/orgs/{org_id}/logs, c=64",
		} {
			var line string
			for l := range strings.Lines(text) {
				if strings.HasPrefix(l, "| "+name+" |") {
					line = l
				}
			}
			if line == "" {
				t.Errorf("no row %q", name)
				continue
			}
			if strings.HasPrefix(name, "(a)") {
				continue // hashes, not requests
			}
			if m := regexp.MustCompile(`\| (\d+) / (\d+) \|`).FindStringSubmatch(line); m == nil || m[1] != "0" || m[2] == "0" {
				t.Errorf("row %q: want 0 errors out of at least one request:\n%s", name, line)
			}
		}
		checkSamples(t, text, "a", 5)
		checkSamples(t, text, "b", 7)
	})
}

// TestBenchOnlyLogin: -only login prints (a) and the login rows, and
// nothing else.
func TestBenchOnlyLogin(t *testing.T) {
	cheapHashes(t)
	out, rows := runOnly(t, "login")
	var got []string
	for _, cells := range rows {
		got = append(got, cells[0])
	}
	want := []string{hashRowName, "password login, c=2", "password login, c=64", "password login, c=64, an address per client", "login + TOTP code, c=2", "login + TOTP code, c=64"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows %q, want %q\n%s", got, want, out)
	}
	checkSamples(t, out, "a", len(want)-1)
}

// TestBenchOnlySelf: -only self prints (b) and the three GET /api/v1/self
// rows (session, token, many sessions), each compared with (b), without
// errors, and no (a).
func TestBenchOnlySelf(t *testing.T) {
	out, rows := runOnly(t, "self")
	var got []string
	for i, cells := range rows {
		got = append(got, cells[0])
		if i > 0 && (!strings.HasPrefix(cells[2], "(b) ") || !strings.HasPrefix(cells[4], "0 / ")) {
			t.Errorf("row %q: limit %q, errors %q; want (b) and none", cells[0], cells[2], cells[4])
		}
	}
	want := []string{bareRowName, "session GET /api/v1/self, c=64", "token GET /api/v1/self, c=64", "session GET /api/v1/self, c=64, 100 sessions"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows %q, want %q\n%s", got, want, out)
	}
	checkSamples(t, out, "b", len(want)-1)
	if strings.Contains(out, "(a)") {
		t.Errorf("-only self reports (a):\n%s", out)
	}
}

// runOnly runs the benchmark briefly on a new SQLite file with -only
// only, and returns its report and the cells of its table's rows.
func runOnly(t *testing.T, only string) (string, [][]string) {
	t.Helper()
	var out bytes.Buffer
	db := filepath.Join(t.TempDir(), "portal.db")
	if err := run(context.Background(), []string{"-db", db, "-users", "200", "-orgs", "10", "-audit", "10", "-totp", "100", "-sessions", "100", "-duration", "100ms", "-only", only}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for l := range strings.Lines(out.String()) {
		if row, ok := strings.CutPrefix(l, "| "); ok && !strings.HasPrefix(row, "figure") && !strings.HasPrefix(l, "|---") {
			cells := strings.Split(strings.TrimSuffix(strings.TrimSpace(row), " |"), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			rows = append(rows, cells)
		}
	}
	return out.String(), rows
}

// checkSamples: the report lists a sample of the limit lim ("a" or "b")
// before the first of the n rows compared with it and one after each; each
// such row's limit is the mean of the two samples around it, and the
// limit's own row the mean of all. Every row gives the CPU it used.
func checkSamples(t *testing.T, text, lim string, n int) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\(` + lim + `\) samples, [^:]*: (.*)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no (%s) samples line:\n%s", lim, text)
	}
	var samples []float64
	for f := range strings.SplitSeq(m[1], ", ") {
		var v float64
		if _, err := fmt.Sscan(f, &v); err != nil || v <= 0 {
			t.Fatalf("(%s) sample %q: %v", lim, f, err)
		}
		samples = append(samples, v)
	}
	if len(samples) != n+1 {
		t.Fatalf("%d (%s) samples for %d rows, want one more:\n%s", len(samples), lim, n, text)
	}
	meanRow := map[string]string{"a": hashRowName, "b": bareRowName}[lim]
	cell := regexp.MustCompile(`^\| ([^|]+) \| ([0-9.]+) \| (?:\(([ab])\) ([0-9.]+)|—) \|.*\| ([0-9.]+) \(GC ([0-9.]+)\) / ([0-9.]+) \(kernel ([0-9.]+)\) \|$`)
	var rows int
	var mean float64
	for _, v := range samples {
		mean += v / float64(len(samples))
	}
	// Rates are printed with one decimal below 1,000 and none above, and
	// so are the samples the expected figure comes from.
	near := func(got, want float64) bool {
		if want >= 999 {
			return math.Abs(got-want) <= 1.01
		}
		return math.Abs(got-want) <= 0.11
	}
	sawMean := false
	inTable := false
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "| figure |") {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(l, "|---") {
			continue
		}
		if !strings.HasPrefix(l, "| ") {
			break // the end of the table
		}
		c := cell.FindStringSubmatch(l)
		if c == nil {
			t.Errorf("row without a limit or CPU figures: %s", l)
			continue
		}
		var process float64
		fmt.Sscan(c[5], &process)
		if process <= 0 {
			t.Errorf("row %q: no CPU used by the process", c[1])
		}
		var v float64
		switch {
		case c[1] == meanRow:
			sawMean = true
			fmt.Sscan(c[2], &v)
			if !near(v, mean) {
				t.Errorf("(%s) row %v, want the samples' mean %.2f", lim, v, mean)
			}
		case c[3] == lim:
			fmt.Sscan(c[4], &v)
			if rows >= n {
				t.Fatalf("more rows compared with (%s) than %d", lim, n)
			}
			if want := (samples[rows] + samples[rows+1]) / 2; !near(v, want) {
				t.Errorf("row %q: limit %v, want %.2f, the mean of the samples %v and %v", c[1], v, want, samples[rows], samples[rows+1])
			}
			rows++
		}
	}
	if !sawMean {
		t.Errorf("no row %q", meanRow)
	}
	if rows != n {
		t.Errorf("%d rows compared with (%s), want %d", rows, lim, n)
	}
}

// TestBenchFlags: a run that cannot seed anything is refused before it
// starts.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "0"},
		{"-url", "http://127.0.0.1:1"},
		{"-users", "1000", "-orgs", "1001"},
		{"-users", "1000", "-totp", "950"},
		{"-users", "1000", "-totp", "10"},
		{"-reuse"},
		{"-reuse", "-db", "postgres://127.0.0.1:1/x"},
		{"-db", "postgres://127.0.0.1:1/x", "-schema", "x; DROP SCHEMA public"},
		{"-only", "logins"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if err := run(context.Background(), []string{"-sessions", "0"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-sessions") {
		t.Errorf("-sessions 0: %v, want an error naming -sessions", err)
	}
}

// cheapHashes makes Portal and the seeded accounts hash with cheap
// argon2id parameters for the test.
func cheapHashes(t *testing.T) {
	h := portalHasher
	t.Cleanup(func() { portalHasher = h })
	portalHasher = func() *authn.Hasher { return authn.NewHasher(64, 1, 1, 8) }
}

func mustBox() *authn.SecretBox {
	box, err := benchBox()
	if err != nil {
		panic(err)
	}
	return box
}

// TestSeedWorld seeds a small world on each database and checks what it
// holds: the count of each table, that -reuse recognises it and refuses
// other sizes, and that its accounts work: a Super User logs in and reads
// the first page of their organization's audit log, and an account with
// TOTP logs in with a code of the seeded secret.
func TestSeedWorld(t *testing.T) {
	cheapHashes(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		w := world{users: 2000, orgs: 200, audit: 20000, totp: 200}
		var progress bytes.Buffer
		if err := seedWorld(ctx, db, w, mustBox(), &progress); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "seeding [") {
			t.Errorf("no progress bar: %q", progress.String())
		}
		for table, want := range map[string]int{
			"users": 2000, "orgs": 200, "audit_logs": 20000, "two_factor": 200,
			"sites":      199,  // 0, 1, 2, 0, 1, 2, … of 200 organizations
			"privileges": 2400, // each user's own, and every fifth user's second
			"sessions":   1000, // odd users
			"api_tokens": 200,  // users 3, 13, 23, …
		} {
			if n, err := db.CountRows(ctx, table); err != nil || n != int64(want) {
				t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
			}
		}
		if err := checkWorld(ctx, db, w); err != nil {
			t.Errorf("checkWorld of what was seeded: %v", err)
		}
		for _, other := range []world{
			{users: 2001, orgs: 200, audit: 20000, totp: 200},
			{users: 1999, orgs: 200, audit: 20000, totp: 200},
			{users: 2000, orgs: 201, audit: 20000, totp: 200},
			{users: 2000, orgs: 200, audit: 20001, totp: 200},
			{users: 2000, orgs: 200, audit: 20000, totp: 300},
		} {
			if err := checkWorld(ctx, db, other); err == nil {
				t.Errorf("checkWorld(%+v) of %+v: no error", other, w)
			}
		}

		srv, addr, err := startPortal(db)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		base := "http://" + addr
		accts, err := prepare(ctx, base, []string{w.email(0)})
		if err != nil {
			t.Fatal(err)
		}
		if accts[0].orgID != w.orgID(0) {
			t.Errorf("account 0 is the Super User of %s, want organization 0 (%s)", accts[0].orgID, w.orgID(0))
		}
		var page struct {
			Total   int `json:"total"`
			Results []struct {
				OrgID     string  `json:"org_id"`
				Timestamp float64 `json:"timestamp"`
			} `json:"results"`
		}
		req, _ := http.NewRequest("GET", base+"/api/v1/orgs/"+w.orgID(0)+"/logs", nil)
		accts[0].cookies(req)
		if err := getJSON(req, &page); err != nil {
			t.Fatal(err)
		}
		// Organization 0 has the most entries of its hundred, about 5% of
		// them in the last day.
		if page.Total < 10 || len(page.Results) == 0 {
			t.Errorf("first audit page of organization 0: total %d, %d results", page.Total, len(page.Results))
		}
		for _, e := range page.Results {
			if e.OrgID != w.orgID(0) {
				t.Errorf("entry of organization %s in organization 0's log", e.OrgID)
			}
		}

		// A login of the row "an address per client" comes from its
		// connection's address, not from the load client's.
		for _, spreadAddrs := range []bool{false, true} {
			resp, err := http.DefaultClient.Do(loginRequest(base, w.email(1), 7, spreadAddrs))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			sessions, err := db.ListUserSessions(ctx, w.userID(1), time.Now())
			if err != nil || len(sessions) == 0 {
				t.Fatalf("no session after a login (%s): %v", resp.Status, err)
			}
			want := "127.0.0.1"
			if spreadAddrs {
				want = clientAddr(7)
			}
			if got := sessions[0].IP; got != want {
				t.Errorf("login with spreadAddrs %v: session from %s, want %s", spreadAddrs, got, want)
			}
		}

		pool := newTOTPPool(w)
		if err := pool.login(base)(http.DefaultClient, 0, 0); err != nil {
			t.Errorf("login with a TOTP code: %v", err)
		}
	})
}

// getJSON sends req and decodes its 200 answer into out.
func getJSON(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// TestBenchReuse: a run with -keep leaves what it seeded, which a run with
// -reuse takes as it is (and leaves in place), and which a run with other
// sizes refuses.
func TestBenchReuse(t *testing.T) {
	cheapHashes(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		args := []string{"-db", filepath.Join(t.TempDir(), "portal.db")}
		if d == store.Postgres {
			var b [4]byte
			_, _ = rand.Read(b[:])
			schema := "bench_test_" + hex.EncodeToString(b[:])
			base := os.Getenv("PORTAL_TEST_POSTGRES_URL")
			args = []string{"-db", base, "-schema", schema}
			t.Cleanup(func() {
				admin, err := store.Open(ctx, base)
				if err != nil {
					t.Error(err)
					return
				}
				defer admin.Close()
				if err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
					t.Error(err)
				}
			})
		}
		sizes := []string{"-users", "200", "-orgs", "20", "-audit", "500", "-seed-only"}
		if err := run(ctx, append(append(args, sizes...), "-keep"), io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := run(ctx, append(append(args, sizes...), "-reuse"), io.Discard, io.Discard); err != nil {
				t.Fatalf("-reuse: %v", err)
			}
		}
		if err := run(ctx, append(append(args, "-users", "300", "-orgs", "20", "-audit", "500", "-seed-only"), "-reuse"), io.Discard, io.Discard); err == nil {
			t.Error("-reuse with other sizes: no error")
		}
		if err := run(ctx, append(args, sizes...), io.Discard, io.Discard); err == nil {
			t.Error("seeding again without -reuse: no error")
		}
	})
}

// TestServerRSS: with -url, a row's RSS is the server's, read from its
// /metrics, and the table says so; a server that does not show its metrics
// to the load client leaves the row with the load client's own.
func TestServerRSS(t *testing.T) {
	metrics := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	shown := metrics(200, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 8.75560960e+07\nprocess_virtual_memory_bytes 1.3e+09\n")
	if rss, ok := serverRSS(shown); !ok || math.Abs(rss-83.5) > 0.01 {
		t.Errorf("serverRSS of a /metrics with 87,556,096 bytes: %.2f MiB, %v; want 83.50, true", rss, ok)
	}
	for name, base := range map[string]string{
		"404 (metrics not shown to this client)": metrics(404, "404 page not found\n"),
		"no such metric":                         metrics(200, "go_goroutines 12\n"),
		"nobody listening":                       "http://127.0.0.1:1",
	} {
		if rss, ok := serverRSS(base); ok {
			t.Errorf("%s: serverRSS %.2f MiB, true; want false", name, rss)
		}
	}
	var out bytes.Buffer
	printTable(&out, []row{{name: "session GET /api/v1/self, c=64", rate: 1, requests: 1, rss: 83.5, serverRSS: true}, {name: "(b) bare", rate: 1, rss: 40}})
	if !strings.Contains(out.String(), "| 84 MiB (server) |") || !strings.Contains(out.String(), "| 40 MiB |") {
		t.Errorf("table does not mark the server's RSS, and only it:\n%s", out.String())
	}
}
