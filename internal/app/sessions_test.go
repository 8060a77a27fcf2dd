package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestSessions covers the rules of the sessions list beyond the HTTP
// tests: the current session first, expired sessions neither listed nor
// signed out, another user's session not found, signing out with no other
// session writes nothing, and two concurrent sign-outs of one session
// succeed once.
func TestSessions(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		ctx := context.Background()
		ts := newTestService(t, d, testStart, nil)
		clock, svc := ts.clock, ts.svc
		ts.addUsers(t, "password123", "ann@example.com", "bob@example.com")
		login := func(email, ua string) *app.Actor {
			t.Helper()
			res, err := svc.Login(ctx, email, "password123", app.Client{IP: "198.51.100.7", UserAgent: ua})
			if err != nil {
				t.Fatal(err)
			}
			a, err := svc.Authenticate(ctx, res.Token, "198.51.100.7")
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		audits := func(a *app.Actor) int {
			t.Helper()
			p, err := svc.SelfLogs(ctx, a, app.LogQuery{Duration: "1w"})
			if err != nil {
				t.Fatal(err)
			}
			return p.Total
		}

		stale := login("ann@example.com", "curl/8.5.0")
		clock.Advance(23 * time.Hour)
		first := login("ann@example.com", "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0")
		clock.Advance(time.Minute)
		ann := login("ann@example.com", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36")
		bob := login("bob@example.com", "python-requests/2.31.0")

		clock.Advance(90 * time.Minute) // the curl session (1440 min) has expired
		list, err := svc.ListSessions(ctx, ann)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != ann.Session.ID || !list[0].Current || list[1].ID != first.Session.ID || list[1].Current {
			t.Fatalf("ListSessions = %+v; want the current session, then the other live one", list)
		}
		if got := list[0].Agent.String(); got != "Chrome 126 on Windows" || list[0].IP != "198.51.100.7" {
			t.Errorf("current session: %q from %q", got, list[0].IP)
		}

		before := audits(ann)
		for _, id := range []string{stale.Session.ID, bob.Session.ID, "", "x" + string(make([]byte, 100))} {
			if _, err := svc.SignOutSession(ctx, ann, id); portal.ErrorCode(err) != portal.ENOTFOUND {
				t.Errorf("SignOutSession(%.40q) = %v, want not found", id, err)
			}
		}
		if list, _ := svc.ListSessions(ctx, bob); len(list) != 1 {
			t.Errorf("bob's sessions after ann's refused sign-outs: %+v", list)
		}
		if got := audits(ann); got != before {
			t.Errorf("refused sign-outs wrote %d audit entries", got-before)
		}

		// Two sign-outs of one session at once: one succeeds.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { _, errs[i] = svc.SignOutSession(ctx, ann, first.Session.ID) })
		}
		wg.Wait()
		if ok := (errs[0] == nil) != (errs[1] == nil); !ok || portal.ErrorCode(errs[0])+portal.ErrorCode(errs[1]) != portal.ENOTFOUND {
			t.Errorf("concurrent sign-outs: %v, %v; want one success and one not found", errs[0], errs[1])
		}
		if got := audits(ann); got != before+1 {
			t.Errorf("one sign-out wrote %d audit entries", got-before)
		}

		// Nobody else signed in: nothing to write.
		if n, err := svc.SignOutOtherSessions(ctx, ann, app.Reauth{Password: "password123"}); err != nil || n != 0 {
			t.Errorf("SignOutOtherSessions with no other session = %d, %v", n, err)
		}
		if got := audits(ann); got != before+1 {
			t.Errorf("signing out no session wrote %d audit entries", got-before-1)
		}

		// The current session may sign itself out.
		si, err := svc.SignOutSession(ctx, ann, ann.Session.ID)
		if err != nil || !si.Current {
			t.Fatalf("SignOutSession(current) = %+v, %v", si, err)
		}
		if list, _ := svc.ListSessions(ctx, bob); len(list) != 1 {
			t.Errorf("ann signing herself out touched bob's sessions: %+v", list)
		}
	})
}
