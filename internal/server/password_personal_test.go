package server_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestPasswordContainsPersonalData: a new password that contains the
// user's e-mail address, its local part (4 characters or more), the first
// or last name (3 or more), the name of one of the user's organizations
// (or of the one a sign-up creates) or the word "portal", in any case, is
// refused wherever a password is set (ASVS 5.0 6.2.11): sign-up, a change,
// recovery and sign-up from an invitation, on the API with a 400 whose
// detail names the reason, and in the GUI forms (sign-up, sign-up from an
// invitation) with the same reason on the page. Nothing is changed by a
// refusal, and shorter names are no reason.
func TestPasswordContainsPersonalData(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		anon := e.st.Client()
		const rule = "password policy not met: not a common or easily guessed password"
		refused := func(r testenv.Response, what, reason string) {
			t.Helper()
			e.want(r, 400, what)
			if got, want := e.detail(r), rule+" ("+reason+")"; got != want {
				t.Errorf("%s: detail %q, want %q", what, got, want)
			}
		}
		const (
			emailReason = "it contains your email address"
			localReason = "it contains the part of your email address before the @"
			firstReason = "it contains your first name"
			lastReason  = "it contains your last name"
			word        = `it contains the word "portal"`
		)
		org := func(name string) string { return `it contains the name of your organization "` + name + `"` }

		// Sign-up (API).
		zoe := map[string]any{"first_name": "Zoë", "last_name": "Quill", "org_name": "Globex Corp"}
		for password, reason := range map[string]string{
			"x-ZOE.KAY@example.com": emailReason,
			"zoe.kay kettle lamp":   localReason,
			"kettle ZOË lamp 7":     firstReason,
			"kettle lamp quill 7":   lastReason,
			"globexcorp kettle 7":   org("Globex Corp"),
			"Globex Corp kettle 7":  org("Globex Corp"),
			"kettle Portal lamp 7":  word,
		} {
			refused(e.register(anon, "zoe.kay@example.com", password, zoe), "sign-up with "+password, reason)
		}
		if n := len(e.mailsTo("zoe.kay@example.com")); n != 0 {
			t.Errorf("refused sign-ups mailed %d links", n)
		}
		// Short names and local parts are no reason: Al Wu <bob@…> may use them.
		short := map[string]any{"first_name": "Al", "last_name": "Wu", "org_name": "HP"}
		e.want(e.register(anon, "bob@example.com", "al wu bob hp kettle", short), 200, "sign-up with names under 3 characters and a local part under 4")

		// A change (API): the organizations of the user count, and the
		// password stays as it was.
		const old = "quiet kettle lamp 7"
		ann := e.signUp("ann.smith@example.com", old, "Initech")
		refused(e.changePassword(ann, "my initech kettle", old), "change to the organization's name", org("Initech"))
		refused(e.changePassword(ann, "PORTAL kettle lamp", old), "change to the product's name", word)
		refused(e.changePassword(ann, "ann.smith kettle", old), "change to the local part", localReason)
		refused(e.changePassword(ann, "kettle TEST lamp", old), "change to the first name (Test)", firstReason)
		if _, r := e.login("ann.smith@example.com", old); r.Status != 200 {
			t.Errorf("a refused change changed the password: login %d %s", r.Status, r.Body)
		}
		// A name changed with the password counts too.
		r := e.do(ann, "PUT", "/api/v1/self", map[string]any{"first_name": "Hortense", "password": "hortense kettle 7", "old_password": old})
		refused(r, "change with the new first name", "it contains your name")

		// Recovery (API).
		e.want(e.do(anon, "POST", "/api/v1/recover", map[string]any{"email": "ann.smith@example.com"}), 200, "recover")
		token := e.recoverToken("ann.smith@example.com", 1)
		refused(e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "ANN.SMITH lamp 42"}), "recovery with the local part",
			localReason)
		refused(e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "initech lamp 42"}), "recovery with the organization's name", org("Initech"))
		e.want(e.do(anon, "POST", "/api/v1/recover/verify/"+token, map[string]any{"password": "tokens in a browser"}), 200, "recovery with a passphrase")

		// GUI: the sign-up form, and the sign-up from an invitation (the
		// inviting organization's name).
		form := func(path string, f url.Values) (int, string) {
			t.Helper()
			res, err := e.st.Client().PostForm(e.st.URL+path, f)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			return res.StatusCode, html.UnescapeString(string(b))
		}
		status, page := form("/signup", url.Values{"email": {"yan@example.com"}, "first_name": {"Yan"}, "last_name": {"Ode"}, "org_name": {"Hooli"},
			"password": {"hooli-kettle-lamp"}, "password_confirm": {"hooli-kettle-lamp"}})
		if want := org("Hooli"); status != http.StatusBadRequest || !strings.Contains(page, want) {
			t.Errorf("GUI sign-up with the organization's name: %d, want 400 saying %q:\n%s", status, want, firstLine(page, "rror"))
		}
		ann, r = e.login("ann.smith@example.com", "tokens in a browser") // the recovery signed out everywhere
		e.want(r, 200, "login with the recovered password")
		e.invite(ann, e.firstOrg(ann), "cat@example.com", orgPriv("read"))
		invToken := e.linkToken(e.waitMail("cat@example.com", "Test User invited you to join Initech on Portal", 1), "/invite?token=")
		inv := url.Values{"token": {invToken}, "first_name": {"Cat"}, "last_name": {"Stevens"}}
		for password, reason := range map[string]string{"Initech lamp 42": org("Initech"), "catlike kettle 9": firstReason, "my portal kettle": word} {
			inv.Set("new_password", password)
			inv.Set("new_password_confirm", password)
			status, page := form("/invite/signup", inv)
			if status != http.StatusBadRequest || !strings.Contains(page, reason) {
				t.Errorf("GUI sign-up from an invitation with %q: %d, want 400 saying %q:\n%s", password, status, reason, firstLine(page, "rror"))
			}
		}
		inv.Set("new_password", "a kitten on a kettle")
		inv.Set("new_password_confirm", "a kitten on a kettle")
		if status, page := form("/invite/signup", inv); status != http.StatusSeeOther {
			t.Errorf("GUI sign-up from an invitation with a passphrase: %d\n%s", status, firstLine(page, "rror"))
		}
	})
}
