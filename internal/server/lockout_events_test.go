package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/secevent"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestLockoutEvents: when a login limit locks an account or a client
// address, the log holds one security.lockout event (WARN), when the lock
// is set, with the limit, what was locked ("account" or "address") and for
// how long, and the user's id when the account exists; a request refused
// because the key is locked already is security.rate_limited. The account's
// lock, set before the hash at the fifth failure, is not logged when the
// password turns out right (the login lifts it). No password and no email
// address is logged.
func TestLockoutEvents(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		var logs logBuffer
		st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Log: &logs})
		e := &apiEnv{t: t, st: st, spec: spec}
		const email, password, wrong = "ann.lockout@example.com", "first kettle lamp 7", "wrong kettle Q7!"
		annSession := e.signUp(email, password, "Acme")
		annID := e.userID(email)

		n := 0
		// login sends a password login with a request id of its own and
		// returns the status and that id.
		login := func(email, password string) (int, string) {
			t.Helper()
			n++
			id := fmt.Sprintf("lockout-%d", n)
			body := `{"email":"` + email + `","password":"` + password + `"}`
			r := sendRaw(t, st, st.Client(), "POST", "/api/v1/login", strings.NewReader(body), true, map[string]string{"X-Request-Id": id})
			return r.Status, id
		}
		// events returns the security events of the log by request id.
		events := func() map[string][]map[string]any {
			t.Helper()
			byID := map[string][]map[string]any{}
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("a log line is not JSON: %v: %s", err, sc.Bytes())
				}
				if rec["msg"] == "security event" {
					id, _ := rec["request_id"].(string)
					byID[id] = append(byID[id], rec)
				}
			}
			return byID
		}
		names := func(recs []map[string]any) []string {
			var s []string
			for _, r := range recs {
				s = append(s, r["event"].(string))
			}
			return s
		}
		// want checks the events of one request, in order; a lockout's
		// fields are checked against lock (limit, key_kind, locked_seconds,
		// user_id).
		type lockout struct {
			limit, kind, userID string
			seconds             float64
		}
		want := func(what, id string, lock *lockout, wantNames ...string) {
			t.Helper()
			got := events()[id]
			if strings.Join(names(got), " ") != strings.Join(wantNames, " ") {
				t.Errorf("%s (request %s): events %q, want %q: %v", what, id, names(got), wantNames, got)
				return
			}
			for _, rec := range got {
				if rec["event"] != secevent.Lockout.Name {
					continue
				}
				if lock == nil {
					t.Fatalf("%s: a lockout not expected", what)
				}
				uid, _ := rec["user_id"].(string)
				if rec["level"] != "WARN" || rec["limit"] != lock.limit || rec["key_kind"] != lock.kind || rec["locked_seconds"] != lock.seconds || uid != lock.userID {
					t.Errorf("%s: lockout %v, want level WARN, limit %s, key_kind %s, locked_seconds %v, user_id %q", what, rec, lock.limit, lock.kind, lock.seconds, lock.userID)
				}
				if rec["client"] != "127.0.0.1" || rec["request_id"] != id {
					t.Errorf("%s: lockout %v without the request's id and client address", what, rec)
				}
			}
		}
		failed, locked, limited := secevent.LoginFailed.Name, secevent.Lockout.Name, secevent.RateLimited.Name

		// Four failures, then the right password: the fifth attempt locks
		// the account before the hash, and the right password lifts the
		// lock: no lockout is logged, and the next login goes through.
		for i := range 4 {
			status, id := login(email, wrong)
			if status != 400 {
				t.Fatalf("wrong password %d: status %d", i+1, status)
			}
			want("a wrong password", id, nil, failed)
		}
		status, id := login(email, password)
		if status != 200 {
			t.Fatalf("the right password at the fifth attempt: status %d", status)
		}
		want("the right password at the fifth attempt", id, nil, secevent.LoginSucceeded.Name)
		if status, _ := login(email, password); status != 200 {
			t.Fatalf("a login after the lifted lock: status %d", status)
		}

		// Five failures lock the account for a minute: the fifth is logged
		// as a failure and a lockout; the next attempt, refused while the
		// lock lasts, as rate limited only.
		for i := range 5 {
			status, id = login(email, wrong)
			if status != 400 {
				t.Fatalf("wrong password %d: status %d", i+1, status)
			}
			if i < 4 {
				want("a wrong password", id, nil, failed)
			}
		}
		want("the fifth wrong password", id, &lockout{"login:acct", "account", annID, 60}, failed, locked)
		status, id = login(email, password)
		if status != 429 {
			t.Fatalf("a login while the account is locked: status %d", status)
		}
		want("a login while the account is locked", id, nil, limited)

		// Once the lock ends, the next failure locks again, for twice as
		// long: a new lock, logged again.
		st.Clock.Advance(61 * time.Second)
		status, id = login(email, wrong)
		if status != 400 {
			t.Fatalf("a wrong password after the lock: status %d", status)
		}
		want("a wrong password after the lock", id, &lockout{"login:acct", "account", annID, 120}, failed, locked)

		// An address without an account is locked the same way, naming
		// nobody.
		for i := range 5 {
			status, id = login("nobody.lockout@example.com", wrong)
			if status != 400 {
				t.Fatalf("unknown address, attempt %d: status %d", i+1, status)
			}
		}
		want("the fifth failure for an unknown address", id, &lockout{"login:acct", "account", "", 60}, failed, locked)

		// The client address: the attempt over the limit is refused and
		// locks the address for 15 minutes, logged as a lockout (and not
		// also as rate limited); the next attempt is rate limited.
		refused := false
		for i := range 110 {
			if status, id = login(fmt.Sprintf("nobody%d.lockout@example.com", i), wrong); status == 429 {
				refused = true
				break
			}
			want("a failure from the address", id, nil, failed)
		}
		if !refused {
			t.Fatal("110 failed logins from one address were not refused")
		}
		want("the attempt that locks the address", id, &lockout{"login:ip", "address", "", 900}, locked)
		status, id = login(email, password)
		if status != 429 {
			t.Fatalf("a login from the locked address: status %d", status)
		}
		want("a login from the locked address", id, nil, limited)

		// Wrong current passwords on a password change lock changes for
		// the account at the fifth (limitOldPassword): one lockout, then
		// 429 without another.
		oldpw := func() int {
			t.Helper()
			k := 0
			for _, recs := range events() {
				for _, rec := range recs {
					if rec["event"] == locked && rec["limit"] == "oldpw" {
						k++
						uid, _ := rec["user_id"].(string)
						if rec["key_kind"] != "account" || rec["locked_seconds"] != float64(900) || uid != annID {
							t.Errorf("the lockout of password changes: %v, want key_kind account, locked_seconds 900, user_id %s", rec, annID)
						}
					}
				}
			}
			return k
		}
		change := map[string]any{"password": "second kettle lamp 8", "old_password": wrong}
		for i := range 5 {
			e.want(e.do(annSession, "PUT", "/api/v1/self", change), 400, "a wrong current password")
			if got, want := oldpw(), map[bool]int{true: 1, false: 0}[i == 4]; got != want {
				t.Errorf("after %d wrong current passwords: %d lockouts of password changes, want %d", i+1, got, want)
			}
		}
		e.want(e.do(annSession, "PUT", "/api/v1/self", change), 429, "a password change while locked")
		if got := oldpw(); got != 1 {
			t.Errorf("after a refused change: %d lockouts of password changes, want 1", got)
		}

		// Once each: five lockouts in all, and no password or email
		// address in any security event.
		total := 0
		for _, recs := range events() {
			for _, rec := range recs {
				if rec["event"] == locked {
					total++
				}
				for k, v := range rec {
					if s, ok := v.(string); ok && (strings.Contains(s, "@") || strings.Contains(s, "kettle")) {
						t.Errorf("%s: %s holds an address or a password: %q", rec["event"], k, s)
					}
				}
			}
		}
		if total != 5 {
			t.Errorf("%d lockout events, want 5", total)
		}
		if out := logs.String(); strings.Contains(out, password) || strings.Contains(out, wrong) {
			t.Error("the log holds a password")
		}
	})
}
