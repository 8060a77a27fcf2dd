package store_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"portal/internal/store"
	"portal/internal/testenv"
)

// TestMigrationAPITokenNames: migration 18 renames the API tokens of a user
// that share a name (case aside) before it makes the name unique: the
// oldest keeps it, the others become "<name> (2)", "<name> (3)"… in order
// of creation (then id), or "<name> (<id>)" when that name is taken too;
// another user's tokens are left alone. Afterwards the database itself
// refuses a second token of the name, in another case too.
func TestMigrationAPITokenNames(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		sqlDB, gd := openRaw(t, d)
		p, err := goose.NewProvider(gd, sqlDB, os.DirFS(filepath.Join("migrations", string(d))))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 17); err != nil {
			t.Fatalf("up to 17: %v", err)
		}
		exec := func(q string) error {
			_, err := sqlDB.ExecContext(ctx, q)
			return err
		}
		for _, u := range []string{"u1", "u2"} {
			if err := exec(fmt.Sprintf(`INSERT INTO users (id, email, email_lower, password_hash, password_modified_at, created_at, modified_at)
				VALUES ('%s', '%s@example.com', '%s@example.com', 'x', 1, 1, 1)`, u, u, u)); err != nil {
				t.Fatal(err)
			}
		}
		token := func(id, user, name string, created int) error {
			return exec(fmt.Sprintf(`INSERT INTO api_tokens (id, user_id, name, key_hash, created_at) VALUES ('%s', '%s', '%s', 'hash-%s', %d)`,
				id, user, name, id, created))
		}
		for _, tk := range []struct {
			id, user, name string
			created        int
		}{
			{"a", "u1", "deploy", 1}, {"b", "u1", "Deploy", 2}, {"c", "u1", "deploy", 3}, {"d", "u1", "deploy (3)", 4},
			{"e", "u1", "backup", 5}, {"g", "u1", "x", 9}, {"f", "u1", "x", 9}, {"h", "u2", "deploy", 1}, {"i", "u2", "DEPLOY", 0},
		} {
			if err := token(tk.id, tk.user, tk.name, tk.created); err != nil {
				t.Fatalf("token %s: %v", tk.id, err)
			}
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		got := map[string]string{}
		rows, err := sqlDB.QueryContext(ctx, `SELECT id, name FROM api_tokens`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				t.Fatal(err)
			}
			got[id] = name
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a": "deploy", "b": "Deploy (2)", "c": "deploy (c)", "d": "deploy (3)", "e": "backup",
			"f": "x", "g": "x (2)", "h": "deploy (2)", "i": "DEPLOY"}
		if !maps.Equal(got, want) {
			t.Errorf("names after the migration:\n got %v\nwant %v", got, want)
		}
		if err := token("j", "u1", "BACKUP", 10); err == nil {
			t.Error("a second token named backup (as BACKUP) was stored")
		}
		if err := token("k", "u2", "backup", 10); err != nil {
			t.Errorf("another user's token named backup: %v", err)
		}
	})
}
