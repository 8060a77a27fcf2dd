package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBenchTable runs the benchmark for a fraction of a second with three
// accounts and checks that it prints the table with every row and that no
// request failed. It checks no timing; Portal hashes with cheap argon2id
// parameters here (the (a) row still measures Portal's).
func TestBenchTable(t *testing.T) {
	defer func(h func() *authn.Hasher) { portalHasher = h }(portalHasher)
	portalHasher = func() *authn.Hasher { return authn.NewHasher(64, 1, 1, 8) }
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		db := filepath.Join(t.TempDir(), "portal.db")
		if d == store.Postgres {
			db = os.Getenv("PORTAL_TEST_POSTGRES_URL") // the run makes and drops a schema of its own
		}
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-db", db, "-users", "3", "-duration", "150ms"}, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		t.Log("\n" + text)
		for _, name := range []string{
			"(a) argon2id hashes/s, all cores, best of 3",
			"(b) bare net/http, cookie in a map, c=64",
			"password login, c=2",
			"password login, c=64",
			"session GET /api/v1/self, c=64",
			"token GET /api/v1/self, c=64",
			"session PUT /api/v1/self, c=64",
			"session GET /api/v1/orgs/{org_id}, c=64",
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
	})
}

// TestBenchFlags: a run that cannot seed anything is refused before it
// starts.
func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{{"-users", "0"}, {"-url", "http://127.0.0.1:1"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
