package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"portal/internal/store"
	"portal/internal/testenv"
)

var dialects = []store.Dialect{store.SQLite, store.Postgres}

// migrationFiles lists the migration files of a dialect's folder.
func migrationFiles(t *testing.T, d store.Dialect) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", string(d)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("migrations/%s/%s: unexpected directory", d, e.Name())
			continue
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		t.Fatalf("migrations/%s holds no migration", d)
	}
	return names
}

// TestMigrationParity checks that both dialects have the same migrations
// (same file names, so the same version numbers) and that every migration
// can be applied and reverted.
func TestMigrationParity(t *testing.T) {
	files := map[store.Dialect][]string{}
	for _, d := range dialects {
		files[d] = migrationFiles(t, d)
	}
	for _, d := range dialects {
		for _, other := range dialects {
			for _, name := range files[d] {
				if !slices.Contains(files[other], name) {
					t.Errorf("migrations/%s/%s has no counterpart in migrations/%s", d, name, other)
				}
			}
		}
	}
	for _, d := range dialects {
		var versions []int64
		for _, name := range files[d] {
			path := filepath.Join("migrations", string(d), name)
			if filepath.Ext(name) != ".sql" {
				t.Errorf("%s: not a .sql migration", path)
				continue
			}
			v, err := goose.NumericComponent(name)
			if err != nil || v < 1 {
				t.Errorf("%s: no version number: %v", path, err)
				continue
			}
			if slices.Contains(versions, v) {
				t.Errorf("%s: version %d used twice", path, v)
			}
			versions = append(versions, v)
			checkUpDown(t, path)
		}
	}
}

// checkUpDown checks that a goose SQL migration has an Up section followed
// by a Down section, each with at least one statement.
func checkUpDown(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section := ""
	statements := map[string]int{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "-- +goose "); ok {
			switch a := strings.Fields(rest); {
			case len(a) > 0 && (a[0] == "Up" || a[0] == "Down"):
				section = a[0]
				order = append(order, a[0])
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if section == "" {
			t.Errorf("%s: SQL before -- +goose Up: %q", path, line)
			return
		}
		statements[section]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"Up", "Down"}) {
		t.Errorf("%s: annotations %v, want one -- +goose Up then one -- +goose Down", path, order)
		return
	}
	for _, s := range order {
		if statements[s] == 0 {
			t.Errorf("%s: the %s section is empty", path, s)
		}
	}
}

// TestMigrationsDownUp applies every migration, reverts them all and applies
// them again, on each dialect.
func TestMigrationsDownUp(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		sqlDB, gd := openRaw(t, d)
		p, err := goose.NewProvider(gd, sqlDB, os.DirFS(filepath.Join("migrations", string(d))))
		if err != nil {
			t.Fatal(err)
		}
		sources := p.ListSources()
		latest := sources[len(sources)-1].Version
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		tables := tableNames(t, sqlDB, d)
		if len(tables) == 0 {
			t.Fatal("no tables after the migrations")
		}
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != 0 {
			t.Fatalf("version after down = %d, %v; want 0", v, err)
		}
		if left := tableNames(t, sqlDB, d); len(left) != 0 {
			t.Fatalf("tables left after reverting every migration: %v", left)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != latest {
			t.Fatalf("version after up = %d, %v; want %d", v, err, latest)
		}
		if again := tableNames(t, sqlDB, d); !slices.Equal(again, tables) {
			t.Fatalf("tables after up, down, up = %v, want %v", again, tables)
		}
	})
}

// TestMigrationSchemaParity checks that both dialects end with the same
// tables and columns.
func TestMigrationSchemaParity(t *testing.T) {
	ds := testenv.Dialects(t)
	if !slices.Contains(ds, store.Postgres) {
		t.Skip("needs PostgreSQL")
	}
	cols := map[store.Dialect]map[string][]string{}
	for _, d := range ds {
		sqlDB, gd := openRaw(t, d)
		p, err := goose.NewProvider(gd, sqlDB, os.DirFS(filepath.Join("migrations", string(d))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(context.Background()); err != nil {
			t.Fatal(err)
		}
		cols[d] = columns(t, sqlDB, d)
	}
	sq, pg := cols[store.SQLite], cols[store.Postgres]
	for table, c := range sq {
		if !slices.Equal(c, pg[table]) {
			t.Errorf("table %s: sqlite columns %v, postgres columns %v", table, c, pg[table])
		}
	}
	for table := range pg {
		if _, ok := sq[table]; !ok {
			t.Errorf("table %s exists only in postgres", table)
		}
	}
}

// openRaw opens an empty database of dialect d with database/sql alone.
func openRaw(t *testing.T, d store.Dialect) (*sql.DB, goose.Dialect) {
	t.Helper()
	var (
		db  *sql.DB
		err error
		gd  goose.Dialect
	)
	switch d {
	case store.SQLite:
		db, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "raw.db")+"?_pragma=foreign_keys(1)")
		gd = goose.DialectSQLite3
	case store.Postgres:
		db, err = sql.Open("pgx", testenv.PostgresURL(t))
		gd = goose.DialectPostgres
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, gd
}

func tableNames(t *testing.T, db *sql.DB, d store.Dialect) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`
	if d == store.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'goose_db_version' ORDER BY table_name`
	}
	return queryStrings(t, db, q)
}

func columns(t *testing.T, db *sql.DB, d store.Dialect) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range tableNames(t, db, d) {
		q := `SELECT name FROM pragma_table_info('` + table + `') ORDER BY name`
		if d == store.Postgres {
			q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '` + table + `' ORDER BY column_name`
		}
		out[table] = queryStrings(t, db, q)
	}
	return out
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
