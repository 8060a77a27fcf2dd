package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/authn"
	"portal/internal/store"
	"portal/internal/testenv"
)

func newSecurityService(t *testing.T, d store.Dialect, h *authn.Hasher) (*store.DB, *app.Service) {
	t.Helper()
	ts := newTestService(t, d, testStart, h)
	return ts.db, ts.svc
}

func createUserWithHash(t *testing.T, db *store.DB, email, hash string) *portal.User {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	u := &portal.User{ID: uuid.NewString(), Email: email, FirstName: "Ann", LastName: "User", PasswordHash: hash, EmailVerified: true,
		PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	return u
}

// newAnnService is a service (hashing 4 passwords at once) with one user,
// ann@example.com, whose password is testPassword.
func newAnnService(t *testing.T, d store.Dialect) *app.Service {
	t.Helper()
	h := authn.NewHasher(64, 1, 1, 4)
	db, svc := newSecurityService(t, d, h)
	hash, err := h.Hash(context.Background(), testPassword)
	if err != nil {
		t.Fatal(err)
	}
	createUserWithHash(t, db, "ann@example.com", hash)
	return svc
}

// TestLoginThrottleConcurrent: many wrong passwords at once for one
// account get at most limitLoginAccount's 5 real answers, the rest 429, and
// a further attempt is refused; from one client address at most
// limitLoginAddress's 100 attempts are checked.
func TestLoginThrottleConcurrent(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		svc := newAnnService(t, d)

		count := func(errs []error) (bad, throttled int) {
			t.Helper()
			for _, err := range errs {
				switch {
				case errors.Is(err, app.ErrBadCredentials):
					bad++
				case portal.ErrorCode(err) == portal.ETOOMANY:
					throttled++
				default:
					t.Errorf("unexpected answer %v", err)
				}
			}
			return bad, throttled
		}

		// One account, 60 attempts at once from many addresses.
		errs := make([]error, 60)
		runConcurrently(len(errs), func(i int) {
			_, errs[i] = svc.Login(ctx, "ann@example.com", "wrong password", app.Client{IP: fmt.Sprintf("192.0.2.%d", i+1)})
		})
		if bad, throttled := count(errs); bad > 5 || bad+throttled != len(errs) {
			t.Errorf("60 concurrent wrong logins for one account: %d checked, %d throttled; want at most 5 checked", bad, throttled)
		}
		if _, err := svc.Login(ctx, "ann@example.com", testPassword, app.Client{IP: "192.0.2.200"}); portal.ErrorCode(err) != portal.ETOOMANY {
			t.Errorf("right password after the concurrent failures: %v, want 429", err)
		}

		// One address, 300 attempts at once for many accounts.
		errs = make([]error, 300)
		runConcurrently(len(errs), func(i int) {
			_, errs[i] = svc.Login(ctx, fmt.Sprintf("nobody%03d@example.com", i), "wrong password", app.Client{IP: "198.51.100.9"})
		})
		if bad, throttled := count(errs); bad > 100 || bad+throttled != len(errs) {
			t.Errorf("300 concurrent wrong logins from one address: %d checked, %d throttled; want at most 100 checked", bad, throttled)
		}
		if _, err := svc.Login(ctx, "someone@example.com", "wrong password", app.Client{IP: "198.51.100.9"}); portal.ErrorCode(err) != portal.ETOOMANY {
			t.Errorf("a further attempt from that address: %v, want 429", err)
		}
	})
}

// TestLoginSuccessGivesIPAttemptBack: successful logins from one address
// (a NAT) do not use up its attempts. They come four at a time for one
// account, as a double-clicked button sends them, and all succeed: every
// transaction writes the attempt's counters in one order, so that none
// waits for another in a deadlock (PostgreSQL would abort one).
func TestLoginSuccessGivesIPAttemptBack(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		svc := newAnnService(t, d)
		for round := range 30 {
			runConcurrently(4, func(int) {
				if _, err := svc.Login(ctx, "ann@example.com", testPassword, app.Client{IP: "203.0.113.5"}); err != nil {
					t.Errorf("round %d of logins from one address: %v", round+1, err)
				}
			})
		}
	})
}

// TestLoginAddressRefusalSparesAccount: attempts refused for their client
// address (locked, or the one over its limit) do not count on the account
// they name: from another address the account still gets its 5 answers.
func TestLoginAddressRefusalSparesAccount(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		svc := newAnnService(t, d)
		attacker := app.Client{IP: "198.51.100.66"}
		for i := range 100 {
			if _, err := svc.Login(ctx, fmt.Sprintf("nobody%03d@example.com", i), "wrong password", attacker); !errors.Is(err, app.ErrBadCredentials) {
				t.Fatalf("attempt %d from the address: %v", i+1, err)
			}
		}
		// The 101st locks the address; the next ones find it locked.
		for i := range 10 {
			if _, err := svc.Login(ctx, "ann@example.com", "wrong password", attacker); portal.ErrorCode(err) != portal.ETOOMANY {
				t.Fatalf("attempt %d on ann from the used-up address: %v, want 429", i+1, err)
			}
		}
		for i := range 4 {
			if _, err := svc.Login(ctx, "ann@example.com", "wrong password", app.Client{IP: "192.0.2.7"}); !errors.Is(err, app.ErrBadCredentials) {
				t.Fatalf("wrong password %d from another address: %v, want it checked (the refusals did not count on ann)", i+1, err)
			}
		}
		if _, err := svc.Login(ctx, "ann@example.com", testPassword, app.Client{IP: "192.0.2.7"}); err != nil {
			t.Fatalf("ann's own login: %v", err)
		}
	})
}

// TestLoginPendingSignUpNoEnumeration: a sign-up planted for an address
// with the attacker's password answers a login with that password the
// same whether or not the address has an account.
func TestLoginPendingSignUpNoEnumeration(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		svc := newAnnService(t, d)
		const planted = "attacker password 1"
		var answers []error
		for i, email := range []string{"ann@example.com", "nobody@example.com"} {
			c := app.Client{IP: fmt.Sprintf("192.0.2.%d", i+1)}
			if err := svc.Register(ctx, app.RegisterInput{Email: email, FirstName: "M", LastName: "M", Password: planted}, c); err != nil {
				t.Fatalf("register %s: %v", email, err)
			}
			_, err := svc.Login(ctx, email, planted, c)
			answers = append(answers, err)
		}
		a, b := answers[0], answers[1]
		if a == nil || b == nil || portal.ErrorCode(a) != portal.ErrorCode(b) || a.Error() != b.Error() {
			t.Errorf("login with a planted sign-up's password: existing account %v, no account %v; want the same answer", a, b)
		}
		if portal.ErrorCode(b) != portal.EFORBIDDEN {
			t.Errorf("no account: %v, want 403 email_not_verified", b)
		}
		// The account is unchanged: its own password still works.
		if _, err := svc.Login(ctx, "ann@example.com", testPassword, app.Client{IP: "192.0.2.9"}); err != nil {
			t.Errorf("owner's login after the planted sign-up: %v", err)
		}
	})
}

// TestLoginRacingPasswordChange: a login with the old password that is in
// flight when a change commits gets no session, and its rehash never
// overwrites the new password's hash. Every other round the old hash has
// the service's parameters: the logins then hold the user's row without
// writing it.
func TestLoginRacingPasswordChange(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		h := authn.NewHasher(256, 1, 1, 8)
		db, svc := newSecurityService(t, d, h)
		for round := range 16 {
			old := h
			if round%2 == 0 {
				old = authn.NewHasher(128, 1, 1, 8) // other parameters: logins rehash
			}
			oldPW, newPW := fmt.Sprintf("old password %d", round), fmt.Sprintf("new password %d", round)
			oldHash, err := old.Hash(ctx, oldPW)
			if err != nil {
				t.Fatal(err)
			}
			newHash, err := h.Hash(ctx, newPW)
			if err != nil {
				t.Fatal(err)
			}
			u := createUserWithHash(t, db, fmt.Sprintf("race%d@example.com", round), oldHash)
			const logins = 8
			runConcurrently(logins+1, func(i int) {
				if i == logins {
					time.Sleep(time.Duration(round/2) * time.Millisecond)
					change := func() error {
						return db.Write(ctx, func(tx *store.Tx) error {
							cur, err := tx.GetUser(ctx, u.ID) // the old password, perhaps rehashed meanwhile
							if err != nil {
								return err
							}
							if err := tx.ChangePassword(ctx, u.ID, cur.PasswordHash, newHash, time.Now(), uuid.NewString(), 5); err != nil {
								return err
							}
							_, err = tx.DeleteUserSessions(ctx, u.ID, "")
							return err
						})
					}
					err := change()
					for try := 0; errors.Is(err, store.ErrPasswordChanged) && try < 100; try++ {
						err = change() // a login's rehash committed meanwhile: change from that
					}
					if err != nil {
						t.Errorf("change: %v", err)
					}
					return
				}
				_, err := svc.Login(ctx, u.Email, oldPW, app.Client{IP: fmt.Sprintf("192.0.2.%d", i+1)})
				if err != nil && !errors.Is(err, app.ErrBadCredentials) && portal.ErrorCode(err) != portal.ETOOMANY {
					t.Errorf("login: %v", err)
				}
			})
			sessions, err := db.ListUserSessions(ctx, u.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != 0 {
				t.Errorf("round %d: %d sessions opened with the old password survive the change", round, len(sessions))
			}
			got, err := db.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _, _ := h.Verify(ctx, got.PasswordHash, newPW); !ok {
				t.Errorf("round %d: the new password no longer works: a rehash of the old one overwrote it", round)
			}
		}
	})
}

// TestSignupPerIPLimit: one client address may ask for at most 20 sign-ups
// or resends an hour; beyond that 429 with a retry time.
func TestSignupPerIPLimit(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		h := authn.NewHasher(64, 1, 1, 4)
		_, svc := newSecurityService(t, d, h)
		c := app.Client{IP: "198.51.100.20"}
		for i := range 15 {
			in := app.RegisterInput{Email: fmt.Sprintf("user%d@example.com", i), FirstName: "A", LastName: "B", Password: "some password 1"}
			if err := svc.Register(ctx, in, c); err != nil {
				t.Fatalf("sign-up %d: %v", i+1, err)
			}
		}
		for i := range 5 {
			if err := svc.ResendVerification(ctx, fmt.Sprintf("user%d@example.com", i), c); err != nil {
				t.Fatalf("resend %d: %v", i+1, err)
			}
		}
		in := app.RegisterInput{Email: "one-more@example.com", FirstName: "A", LastName: "B", Password: "some password 1"}
		for _, err := range []error{svc.Register(ctx, in, c), svc.ResendVerification(ctx, "user0@example.com", c)} {
			var e *portal.Error
			if !errors.As(err, &e) || e.Code != portal.ETOOMANY || e.RetryAfter <= 0 || e.RetryAfter > time.Hour {
				t.Errorf("21st request from one address: %v, want 429 with a retry time", err)
			}
		}
		// Another address is not affected.
		if err := svc.Register(ctx, in, app.Client{IP: "198.51.100.21"}); err != nil {
			t.Errorf("sign-up from another address: %v", err)
		}
	})
}
