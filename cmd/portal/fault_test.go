package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"portal/internal/authn"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// The fault suite runs Portal as a real process (this test binary, started
// again with PORTAL_FAULT_CHILD=1, runs run(…"serve") as main does) so
// that it can be killed with SIGKILL, as an operator's worst day would.
func TestMain(m *testing.M) {
	if os.Getenv("PORTAL_FAULT_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "portal:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// portalProc is a running `portal serve` process.
type portalProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// startPortal starts `portal serve` with vars (and no other PORTAL_
// setting of the environment) and waits until /readyz answers 200. It
// returns the process and how long it took to be ready.
func startPortal(t *testing.T, base string, vars map[string]string) (*portalProc, time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PORTAL_") && !strings.HasPrefix(kv, "PORTAL_TEST_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "PORTAL_FAULT_CHILD=1")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &portalProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	client := &http.Client{Timeout: 2 * time.Second}
	for range 3000 { // about 30 s at most: a bound, not an assertion
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("portal exited before it was ready: %v\n%s", err, p.out.String())
		default:
		}
		if res, err := client.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, time.Since(start)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("portal never became ready\n%s", p.out.String())
	return nil, 0
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *portalProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
}

// stop sends SIGTERM and waits for a clean exit.
func (p *portalProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.done; err != nil {
		t.Errorf("portal after SIGTERM: %v\n%s", err, p.out.String())
	}
	p.done <- nil
}

// faultClient talks to the API as a signed-in browser would (cookies and
// X-CSRFToken).
type faultClient struct {
	base string
	c    *http.Client
}

func newFaultClient(base string) *faultClient {
	jar, _ := cookiejar.New(nil)
	return &faultClient{base: base, c: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// do sends a JSON request; err is a transport error (no answer).
func (f *faultClient) do(method, path string, body any) (status int, out map[string]any, err error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	u, _ := url.Parse(f.base)
	for _, ck := range f.c.Jar.Cookies(u) {
		if ck.Name == "csrftoken" {
			req.Header.Set("X-CSRFToken", ck.Value)
		}
	}
	res, err := f.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	_ = json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"_raw": string(b)}
	}
	return res.StatusCode, out, nil
}

func (f *faultClient) must(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	status, out, err := f.do(method, path, body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s %s: %d %v %v", method, path, status, out, err)
	}
	return out
}

const faultPassword = "Quartz-violet-ember-92!"

// signUp registers ann with an organization, verifies her through the
// mailed link and signs her in; it returns the organization's id.
func (f *faultClient) signUp(t *testing.T, srv *smtptest.Server, email string) string {
	t.Helper()
	f.must(t, "POST", "/api/v1/register", map[string]any{"email": email, "first_name": "Ann", "last_name": "Fault", "password": faultPassword, "org_name": "Faults"})
	m := srv.WaitFor(t, func(m smtptest.Message) bool {
		return smtptest.To(email)(m) && smtptest.FindLink(m.Text, f.base+"/verify/register?token=") != ""
	}, 30*time.Second)
	link := smtptest.FindLink(m.Text, f.base+"/verify/register?token=")
	f.must(t, "POST", "/api/v1/register/verify/"+link[strings.Index(link, "token=")+len("token="):], nil)
	f.must(t, "POST", "/api/v1/login", map[string]any{"email": email, "password": faultPassword})
	self := f.must(t, "GET", "/api/v1/self", nil)
	privs, _ := self["privileges"].([]any)
	if len(privs) == 0 {
		t.Fatalf("no organization after sign-up: %v", self)
	}
	return privs[0].(map[string]any)["org_id"].(string)
}

// faultFigures are what a fault run reports (README, Faults).
type faultFigures struct {
	kills, integrityChecks                  int
	writesAcked, writesLost, writesRefused  int
	unanswered                              int // requests cut by the kill: neither acknowledged nor refused
	mailsExpected, mailsDelivered, mailsDup int
	recovery, mailRecovery                  []time.Duration
}

// ackLog records what Portal acknowledged.
type ackLog struct {
	mu         sync.Mutex
	sites      []string // ids of created sites
	invites    []string // addresses invited
	unanswered int
	refused    int
	lastErr    string
}

// writeLoad creates sites (and every eighth request an invitation, which
// queues a mail, up to 90 per organization: the limit is 100 an hour) in
// org with `workers` clients until stop is closed; each request that gets
// 200 is recorded as acknowledged.
func writeLoad(f *faultClient, org string, cycle, workers int, log *ackLog, stop <-chan struct{}, wg *sync.WaitGroup) {
	var invites atomic.Int32
	for w := range workers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var (
					status int
					out    map[string]any
					err    error
					addr   string
				)
				if n%8 == 7 && invites.Add(1) <= 90 {
					addr = fmt.Sprintf("inv-%d-%d-%d@example.com", cycle, w, n)
					status, out, err = f.do("POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": addr, "first_name": "Inv", "last_name": "Itee",
						"privileges": []map[string]any{{"scope": "org", "role": "read"}}})
				} else {
					status, out, err = f.do("POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": fmt.Sprintf("site %d-%d-%d", cycle, w, n)})
				}
				log.mu.Lock()
				switch {
				case err != nil:
					log.unanswered++
				case status != http.StatusOK:
					log.refused++
					log.lastErr = fmt.Sprintf("%d %v", status, out)
				case addr != "":
					log.invites = append(log.invites, addr)
				default:
					if id, _ := out["id"].(string); id != "" {
						log.sites = append(log.sites, id)
					}
				}
				log.mu.Unlock()
				if err != nil {
					return // the process is gone
				}
			}
		})
	}
}

func (l *ackLog) counts() (sites, invites int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sites), len(l.invites)
}

// sqliteIntegrity runs PRAGMA integrity_check on the file, as it is after
// the kill (the WAL included).
func sqliteIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("integrity_check after the kill: %q, %v", res, err)
	}
}

// TestFaultKill9 kills `portal serve` with SIGKILL under write load (sites
// and invitations, which queue mail, from 4 clients), restarts it with the
// same instance id, and checks: no acknowledged write lost; SQLite's
// integrity_check ok; every acknowledged invitation's mail delivered, a
// mail delivered twice only with the same Message-ID. The fast version (one
// kill after 150 acknowledged writes per database) runs in go test; with
// PORTAL_TEST_FAULTS=long, 5 kills after 1,000 writes each (README, Faults).
func TestFaultKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: not in -short")
	}
	kills, writesPerKill := 1, 150
	if os.Getenv("PORTAL_TEST_FAULTS") == "long" {
		kills, writesPerKill = 5, 1000
	}
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		srv := smtptest.Start(t)
		dir := t.TempDir()
		addr := freeAddr(t)
		base := "http://" + addr
		vars := map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": dir, "PORTAL_SMTP_URL": srv.URL(),
			"PORTAL_SHUTDOWN_DRAIN": "0", "PORTAL_INSTANCE_ID": "fault-" + string(d)}
		dbPath := filepath.Join(dir, "portal.db")
		if d == store.Postgres {
			vars["PORTAL_DATABASE_URL"] = testenv.PostgresURL(t)
			vars["PORTAL_SECRET_KEY"] = strings.Repeat("ab", authn.KeySize)
		}
		p, _ := startPortal(t, base, vars)
		f := newFaultClient(base)
		org := f.signUp(t, srv, "ann@example.com")

		var fig faultFigures
		var log ackLog
		for cycle := range kills {
			if cycle > 0 { // a fresh organization: invitations are limited per organization and hour
				org = f.must(t, "POST", "/api/v1/orgs", map[string]any{"name": "Faults " + strconv.Itoa(cycle)})["id"].(string)
			}
			sites0, _ := log.counts()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			writeLoad(f, org, cycle, 4, &log, stop, &wg)
			for i := 0; ; i++ { // until enough writes are acknowledged (bounded)
				if s, _ := log.counts(); s-sites0 >= writesPerKill {
					break
				}
				if i == 12000 {
					s, _ := log.counts()
					t.Fatalf("cycle %d: only %d writes acknowledged in 2 minutes; last refusal %s\n%s", cycle, s-sites0, log.lastErr, p.out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			p.kill() // kill -9, with requests and mail in flight
			close(stop)
			wg.Wait()
			fig.kills++
			if d == store.SQLite {
				sqliteIntegrity(t, dbPath)
				fig.integrityChecks++
			}
			var ready time.Duration
			p, ready = startPortal(t, base, vars)
			fig.recovery = append(fig.recovery, ready)
			restarted := time.Now()
			// Mail: every acknowledged invitation's mail arrives.
			_, invites := log.counts()
			log.mu.Lock()
			pending := append([]string(nil), log.invites...)
			log.mu.Unlock()
			for _, a := range pending[:invites] {
				srv.WaitFor(t, smtptest.To(a), 60*time.Second)
			}
			fig.mailRecovery = append(fig.mailRecovery, time.Since(restarted))
		}

		// No acknowledged write lost: each site is there.
		for _, id := range log.sites {
			status, out, err := f.do("GET", "/api/v1/sites/"+id, nil)
			if err != nil || status != http.StatusOK {
				fig.writesLost++
				t.Errorf("acknowledged site %s: %d %v %v", id, status, out, err)
			}
		}
		fig.writesAcked = len(log.sites) + len(log.invites)
		fig.unanswered, fig.writesRefused = log.unanswered, log.refused

		// Mails: delivered once, or twice with the same Message-ID.
		byTo := map[string][]string{}
		for _, m := range srv.Messages() {
			for _, to := range m.To {
				byTo[strings.ToLower(to)] = append(byTo[strings.ToLower(to)], m.Header.Get("Message-Id"))
			}
		}
		fig.mailsExpected = len(log.invites)
		for _, a := range log.invites {
			ids := byTo[a]
			if len(ids) > 0 {
				fig.mailsDelivered++
			}
			if len(ids) > 1 {
				fig.mailsDup++
				for _, id := range ids[1:] {
					if id != ids[0] {
						t.Errorf("mail to %s delivered %d times with different Message-IDs %v", a, len(ids), ids)
					}
				}
			}
		}
		if fig.mailsDelivered != fig.mailsExpected {
			t.Errorf("%d of %d acknowledged invitations' mails delivered", fig.mailsDelivered, fig.mailsExpected)
		}
		p.stop(t)
		if d == store.SQLite {
			sqliteIntegrity(t, dbPath)
		}
		t.Logf("%s: %d kill(s); writes acknowledged %d, lost %d (refused %d, cut by the kill %d); mails expected %d, delivered %d, duplicated %d (same Message-ID); ready again after %v; acknowledged mail delivered %v after the restart",
			d, fig.kills, fig.writesAcked, fig.writesLost, fig.writesRefused, fig.unanswered, fig.mailsExpected, fig.mailsDelivered, fig.mailsDup, roundAll(fig.recovery), roundAll(fig.mailRecovery))
	})
}

func roundAll(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Round(10*time.Millisecond).String())
	}
	return out
}

// TestFaultDiskFullSQLite runs Portal on SQLite on a 3 MiB tmpfs and fills
// it: writes answer 503 with Retry-After (never 500) and /readyz fails;
// once space is freed, /readyz and writes recover by themselves, and no
// acknowledged write is lost. Mounting needs root (CAP_SYS_ADMIN); without
// it the test is skipped with a message.
func TestFaultDiskFullSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: not in -short")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=3m,mode=0700"); err != nil {
		t.Skipf("disk full: cannot mount a 3 MiB tmpfs here (%v): it needs root; skipped", err)
	}
	t.Cleanup(func() { // after the process is gone (cleanups run last first)
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Logf("unmount %s: %v", dir, err)
		}
	})
	srv := smtptest.Start(t)
	addr := freeAddr(t)
	base := "http://" + addr
	p, _ := startPortal(t, base, map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": dir, "PORTAL_SMTP_URL": srv.URL(), "PORTAL_SHUTDOWN_DRAIN": "0"})
	f := newFaultClient(base)
	org := f.signUp(t, srv, "ann@example.com")

	// Fill the volume.
	filler := filepath.Join(dir, "filler")
	fh, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	for {
		if _, err := fh.Write(chunk); err != nil {
			break
		}
	}
	fh.Close()

	// Writes go on until the database needs space it does not have; then
	// 503 with Retry-After, never 500.
	var acked []string
	full := false
	for i := 0; i < 5000 && !full; i++ {
		status, out, err := f.do("POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": fmt.Sprintf("site %d with a longer name to fill pages", i)})
		switch {
		case err != nil:
			t.Fatalf("write %d: no answer: %v\n%s", i, err, p.out.String())
		case status == http.StatusOK:
			acked = append(acked, out["id"].(string))
		case status == http.StatusServiceUnavailable:
			full = true
			if d, _ := out["detail"].(string); !strings.Contains(d, "temporarily unavailable") {
				t.Errorf("503 detail = %q", d)
			}
		default:
			t.Fatalf("write %d on a full disk: %d %v, want 200 or 503", i, status, out)
		}
	}
	if !full {
		t.Fatalf("the full volume took %d writes without a 503", len(acked))
	}
	readyz := func() int {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitStatus := func(want int, what string) time.Duration {
		start := time.Now()
		for i := 0; readyz() != want; i++ {
			if i == 3000 { // about 30 s: the probe reruns every 5 s while it succeeds
				t.Fatalf("/readyz never answered %d %s\n%s", want, what, p.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(start)
	}
	notReady := waitStatus(http.StatusServiceUnavailable, "on a full disk")

	// Space comes back: Portal recovers by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitStatus(http.StatusOK, "after space was freed")
	ready := time.Since(freed)
	status, out, err := f.do("POST", "/api/v1/orgs/"+org+"/sites", map[string]any{"name": "after the disk was freed"})
	if err != nil || status != http.StatusOK {
		t.Fatalf("write after space was freed: %d %v %v", status, out, err)
	}
	acked = append(acked, out["id"].(string))
	for _, id := range acked {
		if status, out, err := f.do("GET", "/api/v1/sites/"+id, nil); err != nil || status != http.StatusOK {
			t.Errorf("acknowledged site %s: %d %v %v", id, status, out, err)
		}
	}
	p.stop(t)
	sqliteIntegrity(t, filepath.Join(dir, "portal.db"))
	t.Logf("%d writes acknowledged before the disk was full, then 503; /readyz failed %v after the first 503 and was ready %v after space was freed", len(acked)-1, notReady.Round(10*time.Millisecond), ready.Round(10*time.Millisecond))
}

// TestFaultSMTPDown: while the SMTP server is down, acknowledged mail
// waits in the outbox, which /metrics shows (queue depth, oldest age,
// retried); when the server is back, every mail is delivered by itself.
func TestFaultSMTPDown(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: not in -short")
	}
	srv := smtptest.Start(t)
	addr := freeAddr(t)
	base := "http://" + addr
	p, _ := startPortal(t, base, map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": t.TempDir(), "PORTAL_SMTP_URL": srv.URL(), "PORTAL_SHUTDOWN_DRAIN": "0"})
	f := newFaultClient(base)
	org := f.signUp(t, srv, "ann@example.com")

	srv.SetDown(true)
	var invited []string
	for i := range 5 {
		a := fmt.Sprintf("down-%d@example.com", i)
		f.must(t, "POST", "/api/v1/orgs/"+org+"/invites", map[string]any{"email": a, "first_name": "Inv", "last_name": "Itee",
			"privileges": []map[string]any{{"scope": "org", "role": "read"}}})
		invited = append(invited, a)
	}
	metric := func(body, name string) float64 {
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				x, _ := strconv.ParseFloat(v, 64)
				return x
			}
		}
		return -1
	}
	for i := 0; ; i++ { // until the worker has tried and failed (bounded)
		_, body := get(t, base+"/metrics")
		if metric(body, `portal_mails_total{outcome="retried"}`) >= 1 && metric(body, "portal_mail_queue_depth") == 5 {
			if age := metric(body, "portal_mail_oldest_unsent_age_seconds"); age < 0 {
				t.Errorf("no portal_mail_oldest_unsent_age_seconds:\n%s", body)
			}
			if failed := metric(body, `portal_mails_total{outcome="failed"}`); failed > 0 {
				t.Errorf("%v mails failed for good while the server was down", failed)
			}
			break
		}
		if i == 1000 {
			t.Fatalf("/metrics never showed the waiting mail:\n%s\n%s", body, p.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(p.out.String(), "SMTP server unavailable") {
		t.Errorf("the outage is not in the log:\n%s", p.out.String())
	}
	srv.SetDown(false)
	for _, a := range invited {
		srv.WaitFor(t, smtptest.To(a), 30*time.Second) // the pause is 5 s plus jitter
	}
	for i := 0; ; i++ { // each is marked sent right after the server's acceptance
		_, body := get(t, base+"/metrics")
		if metric(body, "portal_mail_queue_depth") == 0 && metric(body, `portal_mails_total{outcome="sent"}`) >= 6 {
			break
		}
		if i == 1000 {
			t.Fatalf("queue not empty after delivery:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.stop(t)
}
