package server_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIGuessablePasswords: common and easily guessed passwords are
// refused for everyone (ASVS 5.0 6.2.4, 6.2.12), with or without an
// organization, and the refusal says why: at sign-up (the user's own name
// too), when a user in no organization changes the password (which then
// stays as it was), through a recovery link and when signing up from an
// invitation.
func TestAPIGuessablePasswords(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		anon := e.st.Client()
		const rule = "not a common or easily guessed password"
		refused := func(r testenv.Response, what, reason string) {
			t.Helper()
			e.want(r, 400, what)
			want := rule + " (" + reason + ")"
			if got := e.detail(r); got != "password policy not met: "+want {
				t.Errorf("%s: detail %q, want it to name %q", what, got, want)
			}
			m := r.JSON(t)
			if broken, _ := m["broken_rules"].([]any); !slices.Equal(broken, []any{"block_common"}) || !slices.Equal(e.policyErrors(r), []string{want}) ||
				m["min_length"] != 8.0 || m["min_guesses"] != 1e8 {
				t.Errorf("%s: refusal %s", what, r.Body)
			}
		}

		// Sign-up.
		ann := map[string]any{"first_name": "Ann", "last_name": "Smith"}
		refused(e.register(anon, "ann.smith@example.com", "Password1234!", ann), "sign-up with Password1234!",
			"it is a common password with a digit and a symbol added")
		refused(e.register(anon, "ann.smith@example.com", "AnnSmith!2026", ann), "sign-up with AnnSmith!2026",
			"it contains your first name")
		e.want(e.register(anon, "ann.smith@example.com", "AnnSmith!2026", map[string]any{"first_name": "Bob", "last_name": "Jones"}), 400,
			"someone else's name: still a common name and a year")
		e.want(e.register(anon, "ann.smith@example.com", "sessions in a browser", ann), 200, "sign-up with a passphrase")

		// A user in no organization changes the password.
		const old = "correct horse 2fa!"
		bob := e.signUp("bob@example.com", old, "")
		if orgs := e.orgIDs(bob); len(orgs) != 0 {
			t.Fatalf("bob is in organizations %v", orgs)
		}
		refused(e.changePassword(bob, "Qwerty123456!", old), "change to Qwerty123456!", "it is a common password with a symbol added")
		refused(e.changePassword(bob, "TestUser2030", old), "change to the user's name and a year", "it contains your first name")
		if _, r := e.login("bob@example.com", old); r.Status != 200 {
			t.Errorf("a refused change changed the password: login %d %s", r.Status, r.Body)
		}
		if _, r := e.login("bob@example.com", "Qwerty123456!"); r.Status == 200 {
			t.Error("the refused password logs in")
		}

		// Recovery.
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "bob@example.com"}), 200, "recover")
		token := e.recoverToken("bob@example.com", 1)
		refused(e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "bob@example.com"}), "recovery with the email address",
			"it contains your email address")
		e.want(e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "tokens in a browser"}), 200, "recovery with a passphrase")

		// Sign-up from an invitation (the GUI form): the invitee's name.
		carol := e.signUp("carol@example.com", old, "Acme")
		e.invite(carol, e.firstOrg(carol), "cat@example.com", orgPriv("read"))
		form := url.Values{"token": {e.inviteToken("cat@example.com", 1)}, "first_name": {"Cat"}, "last_name": {"Stevens"},
			"new_password": {"CatStevens!2025"}, "new_password_confirm": {"CatStevens!2025"}}
		res, err := e.st.Client().PostForm(e.st.URL+"/invite/signup", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), rule+" (it contains your first name)") {
			t.Errorf("sign-up from an invitation with the invitee's name: %d\n%s", res.StatusCode, body)
		}
	})
}
