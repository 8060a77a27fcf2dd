package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

// testStart is the test clock's usual start.
var testStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testService is what most app tests set up: a service on a fresh database
// of one dialect, with a test clock and a hasher.
type testService struct {
	svc   *app.Service
	db    *store.DB
	clock *testenv.Clock
	h     *authn.Hasher
}

// newTestService sets up a service on dialect d whose clock starts at start
// (zero: testStart), hashing with h (nil: a fast hasher).
func newTestService(t testing.TB, d store.Dialect, start time.Time, h *authn.Hasher) *testService {
	t.Helper()
	if start.IsZero() {
		start = testStart
	}
	if h == nil {
		h = authn.NewHasher(64, 1, 1, 2)
	}
	db := testenv.OpenDB(t, d)
	clock := testenv.NewClock(start)
	return &testService{svc: app.New(app.Options{DB: db, Hasher: h, Now: clock.Now, BaseURL: "http://portal.test"}),
		db: db, clock: clock, h: h}
}

// addUsers stores verified users with one password (hashed once), created
// at the clock's time, directly through the store.
func (ts *testService) addUsers(t testing.TB, password string, emails ...string) []*portal.User {
	t.Helper()
	ctx := context.Background()
	hash, err := ts.h.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	var users []*portal.User
	for _, email := range emails {
		now := ts.clock.Now()
		u := &portal.User{ID: uuid.NewString(), Email: email, PasswordHash: hash, EmailVerified: true,
			PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		if err := ts.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}
