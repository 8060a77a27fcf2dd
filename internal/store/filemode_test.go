//go:build unix

package store_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"portal/internal/store"
)

// TestSQLiteFilesPrivate: the database and its -wal and -shm files hold
// password hashes and session tokens, so only the owner may read them, and
// a data directory Portal creates is the owner's alone, whatever the
// umask (the usual 022 here).
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "portal.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil { // writes: creates -wal and -shm
		t.Fatal(err)
	}
	checkMode(t, dir, 0o700)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		checkMode(t, f, 0o600)
	}
}

// TestSQLiteExistingFilesTightened: files an older version left readable
// by others are made private when the database is opened.
func TestSQLiteExistingFilesTightened(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portal.db")
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrationVersion(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); os.IsNotExist(err) {
			continue
		}
		checkMode(t, f, 0o600)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", filepath.Base(path), got, want)
	}
}
