package main

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portal/internal/authn"
	"portal/internal/smtptest"
	"portal/internal/testenv"
)

// TestFaultKillPostgres kills the PostgreSQL server itself (its postmaster,
// SIGKILL) while 4 clients write through `portal serve`, starts it again,
// and checks that every write Portal acknowledged is there, that Portal
// answered the outage with 503 rather than failures of another kind, that it
// serves writes again by itself, and that every acknowledged invitation's
// mail is delivered. It stops the whole server that PORTAL_TEST_POSTGRES_URL
// names, so it runs only when asked: PORTAL_TEST_FAULTS=postgres, as root
// on the machine running PostgreSQL (README, Faults).
func TestFaultKillPostgres(t *testing.T) {
	if os.Getenv("PORTAL_TEST_FAULTS") != "postgres" {
		t.Skip("kills the PostgreSQL server: runs with PORTAL_TEST_FAULTS=postgres")
	}
	if os.Getenv("PORTAL_TEST_POSTGRES_URL") == "" {
		t.Skip("PORTAL_TEST_POSTGRES_URL is not set")
	}
	url := testenv.PostgresURL(t)
	dataDir := postgresDataDir(t, url)

	srv := smtptest.Start(t)
	addr := freeAddr(t)
	base := "http://" + addr
	vars := map[string]string{"PORTAL_ADDR": addr, "PORTAL_DATA_DIR": t.TempDir(), "PORTAL_SMTP_URL": srv.URL(),
		"PORTAL_SHUTDOWN_DRAIN": "0", "PORTAL_INSTANCE_ID": "fault-pgkill", "PORTAL_DATABASE_URL": url,
		"PORTAL_SECRET_KEY": strings.Repeat("cd", authn.KeySize)}
	p, _ := startPortal(t, base, vars)
	f := newFaultClient(base)
	org := f.signUp(t, srv, "ann@example.com")

	var log ackLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writeLoad(f, org, 0, 4, &log, stop, &wg)
	waitAcked := func(n int, what string) {
		t.Helper()
		for i := 0; ; i++ { // a bound, not an assertion: 2 minutes
			if s, _ := log.counts(); s >= n {
				return
			}
			if i == 12000 {
				s, _ := log.counts()
				t.Fatalf("%s: only %d writes acknowledged; last refusal %s\n%s", what, s, log.lastErr, p.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(150, "before the kill")

	// Kill the postmaster; its backends end when they notice.
	pidText, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("read postmaster.pid (run as root on the database's machine): %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidText), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	ackedAtKill, _ := log.counts()
	killPostgres(t, pid)
	killed := time.Now()

	// While it is down, Portal says so: /readyz fails and writes are
	// refused with 503 (never 500).
	down := false
	for range 3000 {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusServiceUnavailable {
				down = true
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !down {
		t.Errorf("/readyz never failed while PostgreSQL was down")
	}
	outage := time.Since(killed)
	ackedDown, _ := log.counts()
	startPostgres(t, dataDir)
	restarted := time.Now()

	// Portal serves writes again by itself.
	waitAcked(ackedDown+1, "after PostgreSQL's restart")
	recovered := time.Since(restarted)
	waitAcked(ackedDown+150, "after PostgreSQL's restart")
	close(stop)
	wg.Wait()

	// No acknowledged write lost.
	lost := 0
	for _, id := range log.sites {
		status, out, err := f.do("GET", "/api/v1/sites/"+id, nil)
		if err != nil || status != http.StatusOK {
			lost++
			t.Errorf("acknowledged site %s: %d %v %v", id, status, out, err)
		}
	}
	// Every refusal during the outage was a 503.
	if log.refused > 0 && !strings.HasPrefix(log.lastErr, "503") {
		t.Errorf("writes refused during the outage; the last: %s (want 503)", log.lastErr)
	}
	for _, a := range log.invites {
		srv.WaitFor(t, smtptest.To(a), 60*time.Second)
	}
	p.stop(t)
	if ackedDown != ackedAtKill {
		t.Logf("%d writes were acknowledged while PostgreSQL was down (requests answered just before the kill)", ackedDown-ackedAtKill)
	}
	t.Logf("PostgreSQL killed after %d acknowledged writes; writes acknowledged %d, lost %d, refused (503) %d, unanswered %d; /readyz failed within %v; Portal wrote again %v after PostgreSQL was started; mails %d expected, all delivered",
		ackedAtKill, len(log.sites)+len(log.invites), lost, log.refused, log.unanswered, outage.Round(time.Millisecond), recovered.Round(time.Millisecond), len(log.invites))
}

// killPostgres kills the postmaster and every process it started (its
// backends, checkpointer, WAL writer, …) with SIGKILL, as a crash of the
// machine's database would: stopped first, so that it starts nothing more.
func killPostgres(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop postmaster %d: %v", pid, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill postmaster %d: %v", pid, err)
	}
}

// postgresDataDir asks the server for its data directory.
func postgresDataDir(t *testing.T, url string) string {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dir string
	if err := db.QueryRowContext(context.Background(), "SHOW data_directory").Scan(&dir); err != nil {
		t.Fatalf("SHOW data_directory (needs a superuser): %v", err)
	}
	return dir
}

// startPostgres starts the Debian cluster whose data directory is dir
// (/var/lib/postgresql/<version>/<cluster>) again, retrying while the
// killed server's processes are still going away.
func startPostgres(t *testing.T, dir string) {
	t.Helper()
	version, cluster := filepath.Base(filepath.Dir(dir)), filepath.Base(dir)
	var out []byte
	var err error
	for range 60 {
		out, err = exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start").CombinedOutput()
		if err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("start PostgreSQL %s/%s again: %v\n%s", version, cluster, err, out)
}
