package app_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

const (
	concurrentUsers = 64
	testPassword    = "correct horse battery"
)

// createUsers stores n verified users sharing one password hash made by h,
// directly through the store (hashing once keeps the setup short).
func createUsers(tb testing.TB, db *store.DB, h *authn.Hasher, n int) []string {
	tb.Helper()
	ctx := context.Background()
	hash, err := h.Hash(ctx, testPassword)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	emails := make([]string, n)
	err = db.Write(ctx, func(tx *store.Tx) error {
		for i := range emails {
			emails[i] = fmt.Sprintf("user%02d@example.com", i)
			u := &portal.User{ID: uuid.NewString(), Email: emails[i], FirstName: "User", LastName: fmt.Sprint(i),
				PasswordHash: hash, EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return emails
}

// runConcurrently runs fn(i) for i in [0, n) in n goroutines released at once.
func runConcurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// TestConcurrentLogins logs 64 users in at once with the production
// password hasher. On SQLite this is where a lock-order inversion between
// the application and SQLite's own lock shows up as "database is locked"
// errors or a stall; every login must succeed.
func TestConcurrentLogins(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, time.Now().UTC().Truncate(time.Second), authn.DefaultHasher())
		db, h, clock, svc := ts.db, ts.h, ts.clock, ts.svc
		emails := createUsers(t, db, h, concurrentUsers)

		// 1. Every user logs in at the same time.
		results := make([]*app.LoginResult, concurrentUsers)
		errs := make([]error, concurrentUsers)
		runConcurrently(concurrentUsers, func(i int) {
			results[i], errs[i] = svc.Login(ctx, emails[i], testPassword, app.Client{IP: "192.0.2.1", UserAgent: "test"})
		})
		tokens := map[string]bool{}
		for i, err := range errs {
			if err != nil {
				t.Errorf("login %d (%s): %v", i, emails[i], err)
				continue
			}
			if results[i] == nil || results[i].Token == "" || results[i].User.Email != emails[i] {
				t.Errorf("login %d: result %+v", i, results[i])
				continue
			}
			if tokens[results[i].Token] {
				t.Errorf("login %d: session token issued twice", i)
			}
			tokens[results[i].Token] = true
		}
		if t.Failed() {
			t.FailNow()
		}

		// 2. Every session is used at once, a minute later, so that each
		// request also writes (the sliding expiry).
		clock.Advance(2 * time.Minute)
		runConcurrently(concurrentUsers, func(i int) {
			a, err := svc.Authenticate(ctx, results[i].Token, "192.0.2.1")
			if err != nil {
				t.Errorf("authenticate %d: %v", i, err)
				return
			}
			if a.User.Email != emails[i] {
				t.Errorf("authenticate %d: user %s, want %s", i, a.User.Email, emails[i])
			}
		})

		// 3. Good and bad passwords mixed: sessions and throttle counters
		// are written at the same time.
		clock.Advance(time.Minute)
		runConcurrently(concurrentUsers, func(i int) {
			c := app.Client{IP: fmt.Sprintf("198.51.100.%d", i), UserAgent: "test"}
			if i%2 == 0 {
				if _, err := svc.Login(ctx, emails[i], testPassword, c); err != nil {
					t.Errorf("login %d: %v", i, err)
				}
				return
			}
			_, err := svc.Login(ctx, emails[i], "wrong password", c)
			if !errors.Is(err, app.ErrBadCredentials) {
				t.Errorf("login %d with a wrong password: %v, want ErrBadCredentials", i, err)
			}
		})

		// Each successful login wrote its audit entry.
		for i, email := range emails {
			u, err := db.GetUserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			_, total, err := db.ListAudit(ctx, store.AuditQuery{AdminID: u.ID, Start: clock.Now().Add(-time.Hour), End: clock.Now().Add(time.Hour), Page: portal.Page{Limit: 10, Page: 1}})
			if err != nil {
				t.Fatal(err)
			}
			want := 1 + (1 - i%2)
			if total != want {
				t.Errorf("%s: %d audit entries, want %d", email, total, want)
			}
		}
	})
}

// TestConcurrentRegisterSameEmail signs the same address up from 8 clients
// at once (every request succeeds and is mailed its own link), then follows
// all 8 links at once: exactly one creates the account, with its own
// organization, and the others are refused as used.
func TestConcurrentRegisterSameEmail(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		db := testenv.OpenDB(t, d)
		svc := app.New(app.Options{DB: db, Hasher: authn.NewHasher(8, 1, 1, 8), BaseURL: "http://portal.test"})
		const n = 5 // the per-address mail cap is 5 an hour
		errs := make([]error, n)
		runConcurrently(n, func(i int) {
			errs[i] = svc.Register(ctx, app.RegisterInput{Email: "Same@Example.com", FirstName: "Same", LastName: "Person",
				Password: testPassword, OrgName: fmt.Sprintf("Org %d", i)}, app.Client{IP: "192.0.2.1"})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("register %d: %v", i, err)
			}
		}
		msgs, err := store.Outbox{DB: db}.ClaimDue(ctx, time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		var tokens []string
		for _, m := range msgs {
			if i := strings.Index(m.Text, "token="); i >= 0 {
				tokens = append(tokens, strings.Fields(m.Text[i+len("token="):])[0])
			}
		}
		if len(tokens) != n {
			t.Fatalf("%d verification links mailed, want %d", len(tokens), n)
		}
		verr := make([]error, n)
		runConcurrently(n, func(i int) { _, verr[i] = svc.VerifyRegistration(ctx, tokens[i], app.Client{IP: "192.0.2.1"}) })
		wins := 0
		for _, err := range verr {
			switch {
			case err == nil:
				wins++
			case portal.ErrorCode(err) != portal.EINVALID:
				t.Errorf("a losing verification failed with %v, want a clear 400", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d verifications succeeded, want exactly 1: %v", wins, verr)
		}
		u, err := db.GetUserByEmail(ctx, "same@example.com")
		if err != nil {
			t.Fatal(err)
		}
		privs, err := db.ListPrivileges(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(privs) != 1 {
			t.Errorf("the account has %d organizations, want the 1 of the sign-up that won", len(privs))
		}
	})
}

// BenchmarkLoginOne is one client logging in again and again with a
// minimal hash: ns/op is what a login costs beyond its argon2id hash (the
// database's round trips and commits), the time a CPU sits idle at c=2.
//
//	go test -run='^$' -bench=LoginOne -benchtime=2000x ./internal/app/
func BenchmarkLoginOne(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			db := testenv.OpenDB(b, d)
			h := authn.NewHasher(8, 1, 1, 1)
			svc := app.New(app.Options{DB: db, Hasher: h, BaseURL: "http://portal.test"})
			emails := createUsers(b, db, h, concurrentUsers)
			i := 0
			for b.Loop() {
				i++
				if _, err := svc.Login(ctx, emails[i%len(emails)], testPassword, app.Client{IP: "192.0.2.1"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoginParallel measures logins per second with 64 concurrent
// clients, with the production argon2id parameters ("argon2id") and with
// minimal ones ("cheaphash", which shows what the database alone allows).
//
//	go test -run='^$' -bench=LoginParallel -benchtime=200x ./internal/app/
func BenchmarkLoginParallel(b *testing.B) {
	hashers := []struct {
		name string
		h    func() *authn.Hasher
	}{
		{"argon2id", authn.DefaultHasher},
		{"cheaphash", func() *authn.Hasher { return authn.NewHasher(8, 1, 1, concurrentUsers) }},
	}
	for _, d := range testenv.Dialects(b) {
		for _, hh := range hashers {
			b.Run(string(d)+"/"+hh.name, func(b *testing.B) {
				ctx := context.Background()
				db := testenv.OpenDB(b, d)
				h := hh.h()
				svc := app.New(app.Options{DB: db, Hasher: h, BaseURL: "http://portal.test"})
				emails := createUsers(b, db, h, concurrentUsers)
				var next atomic.Int64
				var failed atomic.Int64
				// About 64 goroutines whatever GOMAXPROCS is.
				b.SetParallelism(max(1, (concurrentUsers+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := next.Add(1) % concurrentUsers
						if _, err := svc.Login(ctx, emails[i], testPassword, app.Client{IP: "192.0.2.1"}); err != nil {
							if failed.Add(1) <= 5 {
								b.Errorf("login %s: %v", emails[i], err)
							}
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
				b.ReportMetric(float64(failed.Load()), "errors")
			})
		}
	}
}
