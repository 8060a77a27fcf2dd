package app_test

import (
	"context"
	"fmt"
	"testing"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// The hot paths of an authenticated request, one benchmark each per
// database, so that a regression shows in review:
//
//	go test ./internal/app -run '^$' -bench 'Authenticate|Permissions|UpdateSelf|PasswordPolicyFor' -benchmem
//
// The service's clock stands still, so Authenticate never slides the
// session (it writes at most once a minute): these are the read paths of
// nearly every request.

const benchPassword = "Bench-Pass-7q!x"

// benchUser is a service on d with a logged-in user who owns an
// organization and has an API token.
type benchUser struct {
	ts    *testService
	token string // session token
	key   string // API token
	actor *app.Actor
	org   *portal.Org
}

func newBenchUser(b *testing.B, d store.Dialect) *benchUser {
	b.Helper()
	ctx := context.Background()
	ts := newTestService(b, d, testStart, nil)
	u := ts.addUsers(b, benchPassword, "bench@example.com")[0]
	res, err := ts.svc.Login(ctx, u.Email, benchPassword, app.Client{IP: "192.0.2.1"})
	if err != nil {
		b.Fatal(err)
	}
	a, err := ts.svc.Authenticate(ctx, res.Token, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	name := "Bench Org"
	org, err := ts.svc.CreateOrg(ctx, a, app.OrgInput{Name: &name})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := ts.svc.CreateAPIToken(ctx, a, "bench")
	if err != nil {
		b.Fatal(err)
	}
	return &benchUser{ts: ts, token: res.Token, key: tok.Key, actor: a, org: org}
}

// BenchmarkAuthenticate: a session token to its actor (session, user,
// password expiry, two-factor state).
func BenchmarkAuthenticate(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			for b.Loop() {
				if _, err := bu.ts.svc.Authenticate(ctx, bu.token, "192.0.2.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticateUncached: a session token to its actor when the
// authentication cache does not hold it (after a change that concerned
// the user, or on another instance's first request): the session with its
// user, then the facts (privileges, the organizations' terms, the Google
// link) from the database.
func BenchmarkAuthenticateUncached(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			for b.Loop() {
				app.DropAuthCache(bu.ts.svc)
				if _, err := bu.ts.svc.Authenticate(ctx, bu.token, "192.0.2.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticateToken: an API token to its actor.
func BenchmarkAuthenticateToken(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			for b.Loop() {
				if _, err := bu.ts.svc.AuthenticateToken(ctx, bu.key, "192.0.2.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPermissions: the authorization check of a request in an
// organization (the actor's privileges there, read on every request).
func BenchmarkPermissions(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			for b.Loop() {
				p, err := bu.ts.svc.Permissions(ctx, bu.actor, bu.org.ID)
				if err != nil {
					b.Fatal(err)
				}
				if !p.Can(app.ActManageOrg, "") {
					b.Fatal("the owner may not manage the organization")
				}
			}
		})
	}
}

// BenchmarkUpdateSelf: a change with its audit entry, written in one
// transaction (the name alternates, so each is a change).
func BenchmarkUpdateSelf(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				name := fmt.Sprintf("Bench %d", i)
				if _, err := bu.ts.svc.UpdateSelf(ctx, bu.actor, app.SelfInput{FirstName: &name}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPasswordPolicyFor: the effective password policy of a user in
// an organization (read with the password expiry on every request; the
// check of a new password against it is BenchmarkCheckPassword).
func BenchmarkPasswordPolicyFor(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			bu := newBenchUser(b, d)
			ctx := context.Background()
			for b.Loop() {
				if _, err := bu.ts.svc.PasswordPolicyFor(ctx, bu.actor.User.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
