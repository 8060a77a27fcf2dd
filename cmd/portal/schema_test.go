package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for goose below
	"github.com/pressly/goose/v3"

	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestServeWithoutDDLRights (PostgreSQL): the schema's owner migrates it
// with `portal migrate`; `portal serve` then runs with a role that may
// only read and write rows (no CREATE, not the tables' owner) and answers
// requests that read and write. With a migration pending it does not
// start: it says to run `portal migrate` and run returns an error (exit
// status 1), whether PORTAL_AUTO_MIGRATE lets it try or not; once the
// owner has run `portal migrate`, it starts again.
func TestServeWithoutDDLRights(t *testing.T) {
	if !slices.Contains(testenv.Dialects(t), store.Postgres) {
		t.Skip("PostgreSQL only: set PORTAL_TEST_POSTGRES_URL")
	}
	ctx := context.Background()
	ownerURL := testenv.PostgresURL(t) // a fresh schema, as postgres
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	key := strings.Repeat("ab", authn.KeySize)
	owner := map[string]string{"PORTAL_DATABASE_URL": ownerURL, "PORTAL_SECRET_KEY": key, "PORTAL_DATA_DIR": t.TempDir(), "PORTAL_SHUTDOWN_DRAIN": "0"}
	if err, out, stderr := runCmd(t, []string{"migrate"}, owner); err != nil || !versionLine.MatchString(out) {
		t.Fatalf("portal migrate as the owner: %v %q\n%s", err, out, stderr)
	}

	// A role with DML rights only on the schema's tables.
	admin, err := store.Open(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the role's clean-up below
	var b [6]byte
	_, _ = rand.Read(b[:])
	role, pw := "portal_dml_"+hex.EncodeToString(b[:]), hex.EncodeToString(b[:])+"-Pw"
	grants := func() {
		t.Helper()
		for _, q := range []string{
			"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
			"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA " + schema + " TO " + role,
		} {
			if err := admin.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD '"+pw+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if err := admin.Exec(context.Background(), q); err != nil {
				t.Logf("%s: %v", q, err)
			}
		}
	})
	grants()
	dml := *u
	dml.User = url.UserPassword(role, pw)
	vars := map[string]string{}
	for k, v := range owner {
		vars[k] = v
	}
	vars["PORTAL_DATABASE_URL"] = dml.String()

	// The role really cannot change the schema.
	limited, err := store.Open(ctx, dml.String())
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	if err := limited.Exec(ctx, "CREATE TABLE ddl_probe (id INTEGER)"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("the DML role may create a table (%v)", err)
	}

	serveAndUse := func() {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		addr := freeAddr(t)
		vars["PORTAL_ADDR"] = addr
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, env(vars), &stdout, &stderr) }()
		base := "http://" + addr
		// /readyz runs the write probe (an upsert): rows may be written.
		waitServing(t, done, &stdout, &stderr, answersOK(http.DefaultClient, base+"/readyz"))
		code, body := call(t, "POST", base+"/api/v1/register", map[string]any{"email": "new." + hex.EncodeToString(b[:3]) + "@example.com",
			"first_name": "New", "last_name": "User", "password": "Quiet-Harbour-58"}, nil)
		if code != http.StatusOK {
			t.Errorf("sign-up through the DML role: %d %v", code, body)
		}
		if _, code, body := login(t, base, "nobody@example.com", "Quiet-Harbour-58"); code != http.StatusBadRequest {
			t.Errorf("login through the DML role: %d %v", code, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve with the DML role: %v\n%s", err, stderr.String())
		}
		if strings.Contains(stderr.String(), "applying database migrations") {
			t.Errorf("serve tried to migrate a current schema:\n%s", stderr.String())
		}
	}
	serveAndUse()

	// The owner undoes the newest migration: one is pending.
	sqldb, err := sql.Open("pgx", ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, os.DirFS("../../internal/store/migrations/postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, auto := range []string{"true", "false"} {
		vars["PORTAL_AUTO_MIGRATE"] = auto
		vars["PORTAL_ADDR"] = freeAddr(t)
		err, out, _ := runCmd(t, []string{"serve"}, vars)
		t.Logf("PORTAL_AUTO_MIGRATE=%s: %v", auto, err)
		if err == nil || !strings.Contains(err.Error(), "run `portal migrate`") || !strings.Contains(err.Error(), "this Portal needs version") {
			t.Errorf("PORTAL_AUTO_MIGRATE=%s, a migration pending, no DDL rights: serve = %v, want an error saying to run `portal migrate`", auto, err)
		}
		if strings.Contains(out, "listening") {
			t.Errorf("PORTAL_AUTO_MIGRATE=%s: served with a migration pending", auto)
		}
	}
	if err, out, stderr := runCmd(t, []string{"migrate"}, owner); err != nil || !versionLine.MatchString(out) {
		t.Fatalf("portal migrate as the owner: %v %q\n%s", err, out, stderr)
	}
	grants() // the migration may have made tables
	vars["PORTAL_AUTO_MIGRATE"] = "false"
	serveAndUse()
}

// TestAutoMigrateSetting: PORTAL_AUTO_MIGRATE takes true or false; with
// false, serve on a database that was never migrated refuses to start and
// says to run `portal migrate`, after which it starts (SQLite: the same
// check as on PostgreSQL).
func TestAutoMigrateSetting(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PORTAL_DATA_DIR": dir, "PORTAL_AUTO_MIGRATE": "sometimes"}
	if err, _, _ := runCmd(t, []string{"serve"}, vars); err == nil || !strings.Contains(err.Error(), `PORTAL_AUTO_MIGRATE "sometimes" must be true or false`) {
		t.Errorf("PORTAL_AUTO_MIGRATE=sometimes: %v", err)
	}
	vars["PORTAL_AUTO_MIGRATE"] = "false"
	vars["PORTAL_ADDR"] = freeAddr(t)
	err, out, _ := runCmd(t, []string{"serve"}, vars)
	if err == nil || !strings.Contains(err.Error(), "is at version 0 and this Portal needs version") || !strings.Contains(err.Error(), "run `portal migrate`") {
		t.Errorf("PORTAL_AUTO_MIGRATE=false on a new database: %v", err)
	}
	if strings.Contains(out, "listening") {
		t.Error("served an unmigrated database")
	}
	if err, _, _ := runCmd(t, []string{"migrate"}, vars); err != nil {
		t.Fatal(err)
	}
	vars["PORTAL_SHUTDOWN_DRAIN"] = "0"
	startServe(t, vars, "http://"+vars["PORTAL_ADDR"])
}
