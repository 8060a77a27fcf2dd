package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIEmailIdentity: over the API, a sign-up with an address holding a
// look-alike of an ASCII letter (Kelvin sign, U+0130) or with a name holding
// a text-direction control is refused with 400 and a message naming the
// problem; "Ann@Example.COM" becomes "ann@example.com" (mailed and shown
// so), and logging in works with either spelling.
func TestAPIEmailIdentity(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const pw = "Quartz violin meadow 42"
		e.signUp("kate@example.com", pw, "")
		anon := e.st.Client()
		for _, tc := range []struct {
			email, first, last string
			detail             string
		}{
			{"\u212Aate@example.com", "Kate", "Lee", "U+212A"},
			{"\u0130nes@example.com", "Ines", "Lee", "U+0130"},
			{"ﬁona@example.com", "Fiona", "Lee", "NFKC"},
			{"eve@example.com", "Eve\u202Eevil", "Lee", "first_name must not contain invisible text-direction characters"},
			{"eve@example.com", "Eve", "\u2067Lee", "last_name must not contain invisible text-direction characters"},
			{"eve@example.com", "Eve", "Lee\u2028Mallory", "last_name must not contain line or paragraph separators"},
		} {
			r := e.register(anon, tc.email, pw, map[string]any{"first_name": tc.first, "last_name": tc.last})
			if r.Status != 400 || !strings.Contains(e.detail(r), tc.detail) {
				t.Errorf("sign-up %q %q %q: %d %s, want 400 with %q", tc.email, tc.first, tc.last, r.Status, r.Body, tc.detail)
			}
		}
		// The Kelvin address does not log in as Kate.
		if _, r := e.login("\u212Aate@example.com", pw); r.Status == 200 {
			t.Errorf("login as the Kelvin address: %d %s", r.Status, r.Body)
		}

		c := e.signUp("Ann@Example.COM", pw, "")
		if got := e.self(c)["email"]; got != "ann@example.com" {
			t.Errorf("email of Ann@Example.COM = %v, want ann@example.com", got)
		}
		for _, addr := range []string{"ann@example.com", "Ann@Example.COM", "ANN@EXAMPLE.COM"} {
			if _, r := e.login(addr, pw); r.Status != 200 {
				t.Errorf("login as %s: %d %s", addr, r.Status, r.Body)
			}
		}
		// Mail goes to the normalised address; nothing went to the refused ones.
		m := e.st.SMTP.WaitFor(t, smtptest.To("ann@example.com"), 10*time.Second)
		if !slices.Equal(m.To, []string{"ann@example.com"}) {
			t.Errorf("verification mailed to %q, want ann@example.com", m.To)
		}
		for _, m := range e.st.SMTP.Messages() {
			for _, to := range m.To {
				if to != strings.ToLower(to) || strings.ContainsFunc(to, func(r rune) bool { return r > 0x7F }) {
					t.Errorf("a mail went to %q", to)
				}
			}
		}
	})
}
