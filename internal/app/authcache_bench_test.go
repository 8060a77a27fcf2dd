package app_test

import (
	"context"
	"fmt"
	"runtime"
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

// BenchmarkAuthCacheMemory: the heap the authentication cache
// (authcache.go) holds for 10,000 sessions of 10,000 users, each a member
// of one organization, once each has made a request. It reports the heap
// per session (B/session) and in all (MiB/10k); run it with -benchtime 1x:
//
//	go test ./internal/app -run '^$' -bench AuthCacheMemory -benchtime 1x
func BenchmarkAuthCacheMemory(b *testing.B) {
	const n = 10_000
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			ts := newTestService(b, d, testStart, nil)
			now := ts.clock.Now()
			org := &portal.Org{ID: uuid.NewString(), Name: "Acme", SessionExpiry: 1440, CreatedTime: now, ModifiedTime: now}
			tokens := make([]string, n)
			if err := ts.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateOrg(ctx, org) }); err != nil {
				b.Fatal(err)
			}
			// In transactions of 500 users, each within the store's time bound.
			for first := 0; first < n; first += 500 {
				if err := ts.db.Write(ctx, func(tx *store.Tx) error {
					return seedSessions(ctx, tx, org, now, tokens, first, min(first+500, n))
				}); err != nil {
					b.Fatal(err)
				}
			}
			var perSession float64
			for b.Loop() {
				svc := app.New(app.Options{DB: ts.db, Hasher: ts.h, Now: ts.clock.Now, BaseURL: "http://portal.test"})
				before := heapInUse()
				for _, tok := range tokens {
					if _, err := svc.Authenticate(ctx, tok, "192.0.2.1"); err != nil {
						b.Fatal(err)
					}
				}
				perSession = float64(heapInUse()-before) / n
				runtime.KeepAlive(svc)
			}
			b.ReportMetric(perSession, "B/session")
			b.ReportMetric(perSession*n/(1<<20), "MiB/10k")
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// seedSessions stores users first to last-1, each an Administrator of org
// with one session, whose tokens it puts into tokens.
func seedSessions(ctx context.Context, tx *store.Tx, org *portal.Org, now time.Time, tokens []string, first, last int) error {
	for i := first; i < last; i++ {
		u := &portal.User{ID: uuid.NewString(), Email: fmt.Sprintf("user%05d@example.com", i), FirstName: "Test", LastName: "User",
			PasswordHash: "x", EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now, Timezone: "UTC"}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		p := &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: org.ID, Scope: portal.ScopeOrg, Role: "admin"}
		if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
			return err
		}
		tok, err := authn.NewToken()
		if err != nil {
			return err
		}
		tokens[i] = tok
		s := &portal.Session{ID: uuid.NewString(), TokenHash: authn.HashToken(tok), UserID: u.ID, CSRFToken: "c", CreatedTime: now,
			LastSeenTime: now, ExpiresTime: now.Add(24 * time.Hour), AuthTime: now}
		if err := tx.CreateSession(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkAuthenticateBesideWrites: sessions of 16 users authenticated
// from 64 goroutines while one more user edits their own profile every
// 2 ms, each edit moving auth_epoch (the row "session GET /api/v1/self,
// c=63, beside PUT /self, c=1" of portal-bench, without HTTP, where the
// edits move the counter a few hundred times a second; a fixed pace, so
// that the readers are compared under the same writes). Each edit
// concerns only its user, so the readers' entries stand, but many
// requests find the counter moved and the cache catching up. ns/op is per
// authentication; writes/s counts the edits (500 when they keep pace).
//
//	go test ./internal/app -run '^$' -bench AuthenticateBesideWrites
func BenchmarkAuthenticateBesideWrites(b *testing.B) {
	const readers = 16
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			ctx := context.Background()
			ts := newTestService(b, d, testStart, nil)
			now := ts.clock.Now()
			org := &portal.Org{ID: uuid.NewString(), Name: "Acme", SessionExpiry: 1440, CreatedTime: now, ModifiedTime: now}
			tokens := make([]string, readers)
			if err := ts.db.Write(ctx, func(tx *store.Tx) error {
				if err := tx.CreateOrg(ctx, org); err != nil {
					return err
				}
				return seedSessions(ctx, tx, org, now, tokens, 0, readers)
			}); err != nil {
				b.Fatal(err)
			}
			w := ts.addUsers(b, benchPassword, "writer@example.com")[0]
			res, err := ts.svc.Login(ctx, w.Email, benchPassword, app.Client{IP: "192.0.2.1"})
			if err != nil {
				b.Fatal(err)
			}
			writer, err := ts.svc.Authenticate(ctx, res.Token, "192.0.2.1")
			if err != nil {
				b.Fatal(err)
			}
			stop, done := make(chan struct{}), make(chan error, 1)
			var writes atomic.Int64
			go func() {
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						done <- nil
						return
					case <-tick.C:
					}
					name := fmt.Sprintf("Writer %d", i)
					if _, err := ts.svc.UpdateSelf(ctx, writer, app.SelfInput{FirstName: &name}); err != nil {
						done <- err
						return
					}
					writes.Add(1)
				}
			}()
			var next atomic.Int64
			b.SetParallelism(64 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			start, began := writes.Load(), time.Now()
			b.RunParallel(func(pb *testing.PB) {
				tok := tokens[next.Add(1)%readers]
				for pb.Next() {
					if _, err := ts.svc.Authenticate(ctx, tok, "192.0.2.1"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(writes.Load()-start)/time.Since(began).Seconds(), "writes/s")
			close(stop)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
