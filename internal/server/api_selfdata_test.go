package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal/internal/authn"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

func init() {
	mistRoutes["GET /api/v1/self/login_failures"] = true
}

// TestLoginFailuresAPI: failed logins on one's own account, in Mist's
// shape (GET /api/v1/self/login_failures) with our list, and on My
// Account: counted, with address and browser, most recent first, never
// the password tried; another account's and an unknown address's are not
// shown; purged after 90 days.
func TestLoginFailuresAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		const pw = "failures horse 11"
		ann := e.signUp("ann@example.com", pw, "")
		bob := e.signUp("bob@example.com", pw, "")
		empty := e.do(ann, "GET", "/api/v1/self/login_failures", nil)
		e.want(empty, 200, "no failures yet")
		if m := empty.JSON(t); m["num_attempts"] != 0.0 || m["last_failure_at"] != nil || len(m["failures"].([]any)) != 0 {
			t.Errorf("before any failure: %s", empty.Body)
		}
		agents := []string{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "curl/8.5.0", "python-requests/2.31"}
		for i, ua := range agents {
			e.st.Clock.Advance(time.Minute)
			body := `{"email": "ann@example.com", "password": "guess number ` + string(rune('1'+i)) + `"}`
			r := sendRaw(t, e.st, e.st.Client(), "POST", "/api/v1/login", strings.NewReader(body), true, map[string]string{"User-Agent": ua})
			e.want(r, 400, "wrong password")
		}
		e.want(e.do(e.st.Client(), "POST", "/api/v1/login", map[string]any{"email": "nobody@example.com", "password": "guess"}), 400, "unknown address")
		last := e.st.Clock.Now()

		r := e.do(ann, "GET", "/api/v1/self/login_failures", nil)
		e.want(r, 200, "ann's failures")
		m := r.JSON(t)
		if m["email"] != "ann@example.com" || m["num_attempts"] != 3.0 || m["last_failure_at"] != float64(last.Unix()) {
			t.Errorf("summary: %s", r.Body)
		}
		if got := toStrings(m["user_agents"]); strings.Join(got, "|") != agents[2]+"|"+agents[1]+"|"+agents[0] {
			t.Errorf("user_agents %q, want the three, most recent first", got)
		}
		if got := toStrings(m["scr_ips"]); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("scr_ips %q", got)
		}
		fs := m["failures"].([]any)
		if len(fs) != 3 || fs[0].(map[string]any)["reason"] != "wrong password" || fs[0].(map[string]any)["timestamp"] != float64(last.Unix()) {
			t.Errorf("failures: %v", fs)
		}
		if strings.Contains(string(r.Body), "guess number") {
			t.Errorf("the answer holds a password that was tried: %s", r.Body)
		}
		if m := e.do(bob, "GET", "/api/v1/self/login_failures", nil).JSON(t); m["num_attempts"] != 0.0 {
			t.Errorf("bob sees %v failures", m["num_attempts"])
		}

		// My Account shows them.
		page := pageText(t, e.st, ann, "/account")
		for _, want := range []string{`id="loginfailures"`, "3 failed logins on your account in the last 90 days", "wrong password", "Firefox"} {
			if !strings.Contains(page, want) {
				t.Errorf("My Account does not show %q", want)
			}
		}
		if !strings.Contains(pageText(t, e.st, bob, "/account"), "No failed logins on your account in the last 90 days.") {
			t.Errorf("bob's My Account does not say there are none")
		}

		// Gone after 90 days.
		e.st.Clock.Advance(90*24*time.Hour + time.Minute)
		rep, err := e.st.Service.PurgeRetention(context.Background())
		if err != nil || rep.LoginFailures != 3 {
			t.Errorf("purge after 90 days: %v %v, want the 3 failures", rep, err)
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDataExport: GET /api/v1/self/export and My Account ▸ Download my
// data give one JSON file with the profile, preferences, memberships,
// subscriptions, sessions, API token names, linked sign-ins, the pending e-mail change,
// the user's own audit entries and login failures; and no secret of the
// account appears in it: no password or hash, session or CSRF token, API
// key or its hash, TOTP secret (plain or sealed), recovery code.
func TestDataExport(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ctx := context.Background()
		const email = "ann@example.com"
		ann := e.signUp(email, twoFactorTestPassword, "Acme")
		org := e.firstOrg(ann)
		e.createSite(ann, org, "HQ")
		e.want(e.do(ann, "PUT", "/api/v1/self", map[string]any{"first_name": "Ann", "last_name": "Lee", "timezone": "Europe/Paris", "hour24": true}), 200, "names")
		secret, codes := e.activate(ann)
		_, key := e.tokenCreate(ann, "backup script")
		e.st.Clock.Advance(30 * time.Second)
		e.want(e.do(ann, "POST", "/api/v1/self/update", map[string]any{"email": "ann.new@example.com", "password": twoFactorTestPassword, "two_factor": e.code(secret, 0)}), 200, "email change")
		_, r := e.login(email, "not the password")
		e.want(r, 400, "a failed login")
		other := e.pendingLogin(email)
		e.st.Clock.Advance(30 * time.Second)
		e.want(e.passCode(other, e.code(secret, 0)), 200, "second session")
		u, err := e.st.DB.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		sa, err := e.st.Service.Authenticate(ctx, e.cookie(ann, "sessionid"), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.Service.Subscribe(ctx, sa, org, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.st.DB.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateIdentityLink(ctx, &store.IdentityLink{ID: uuid.NewString(), UserID: u.ID, Provider: "google", Subject: "1098765", Email: "ann.lee@gmail.example", Created: e.st.Clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}

		r = e.do(ann, "GET", "/api/v1/self/export", nil)
		e.want(r, 200, "export")
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="portal-data-`) {
			t.Errorf("Content-Disposition %q", cd)
		}
		var doc struct {
			Profile       map[string]any   `json:"profile"`
			Preferences   map[string]any   `json:"preferences"`
			TwoFactor     map[string]any   `json:"two_factor"`
			Memberships   []map[string]any `json:"memberships"`
			Subscriptions []map[string]any `json:"subscriptions"`
			Sessions      []map[string]any `json:"sessions"`
			APITokens     []map[string]any `json:"api_tokens"`
			LinkedSignIns []map[string]any `json:"linked_sign_ins"`
			PendingEmail  map[string]any   `json:"pending_email_change"`
			AuditEntries  []map[string]any `json:"audit_entries"`
			LoginFailures []map[string]any `json:"login_failures"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, a := range doc.AuditEntries {
			msgs = append(msgs, a["message"].(string))
		}
		for what, ok := range map[string]bool{
			"profile":         doc.Profile["email"] == email && doc.Profile["first_name"] == "Ann" && doc.Profile["id"] == u.ID,
			"preferences":     doc.Preferences["timezone"] == "Europe/Paris" && doc.Preferences["hour24"] == true,
			"two-factor":      doc.TwoFactor["enabled"] == true && doc.TwoFactor["recovery_codes_remaining"] == 10.0,
			"memberships":     len(doc.Memberships) == 1 && doc.Memberships[0]["org_name"] == "Acme" && doc.Memberships[0]["role"] == "admin",
			"subscriptions":   len(doc.Subscriptions) == 1 && doc.Subscriptions[0]["org_name"] == "Acme",
			"sessions":        len(doc.Sessions) == 2 && doc.Sessions[0]["ip"] == "127.0.0.1",
			"API tokens":      len(doc.APITokens) == 1 && doc.APITokens[0]["name"] == "backup script",
			"linked sign-ins": len(doc.LinkedSignIns) == 1 && doc.LinkedSignIns[0]["provider"] == "google" && doc.LinkedSignIns[0]["email"] == "ann.lee@gmail.example",
			"pending email":   doc.PendingEmail["email"] == "ann.new@example.com",
			"audit entries":   slices.Contains(msgs, "Created organization Acme") && slices.Contains(msgs, "Created site HQ") && slices.Contains(msgs, "Requested email change"),
			"login failures":  len(doc.LoginFailures) == 1 && doc.LoginFailures[0]["reason"] == "wrong password",
		} {
			if !ok {
				t.Errorf("the export's %s are wrong or missing", what)
			}
		}

		// No secret, in any form.
		secrets := map[string]string{"password": twoFactorTestPassword, "password hash": u.PasswordHash, "API key": key,
			"API key hash": authn.HashToken(key), "TOTP secret": secret, "session cookie": e.cookie(ann, "sessionid"),
			"CSRF token": e.cookie(ann, "csrftoken"), "other session cookie": e.cookie(other, "sessionid")}
		for i, c := range codes {
			secrets["recovery code "+strconv.Itoa(i)] = c
		}
		tf, err := e.st.DB.GetTwoFactor(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		secrets["sealed TOTP secret"] = tf.Secret
		sessions, err := e.st.DB.ListUserSessions(ctx, u.ID, e.st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range sessions {
			secrets["session token hash "+strconv.Itoa(i)] = s.TokenHash
			secrets["session CSRF "+strconv.Itoa(i)] = s.CSRFToken
		}
		body := string(r.Body)
		for what, v := range secrets {
			if v == "" {
				t.Fatalf("test set-up: no %s", what)
			}
			if strings.Contains(body, v) {
				t.Errorf("the export holds the %s", what)
			}
		}
		var keys func(any)
		keys = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, y := range x {
					if lk := strings.ToLower(k); strings.Contains(lk, "hash") || strings.Contains(lk, "secret") || strings.Contains(lk, "key") ||
						(strings.Contains(lk, "password") && lk != "password_changed" && lk != "password_reset_required") {
						t.Errorf("the export has a field %q", k)
					}
					keys(y)
				}
			case []any:
				for _, y := range x {
					keys(y)
				}
			}
		}
		var whole any
		_ = json.Unmarshal(r.Body, &whole)
		keys(whole)

		// The same with an API token, and as a download from My Account.
		if r := e.tok(key, "GET", "/api/v1/self/export", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"backup script"`) {
			t.Errorf("export with an API token: %d", r.Status)
		}
		if !strings.Contains(pageText(t, e.st, ann, "/account"), `href="/account/export"`) {
			t.Errorf("My Account has no Download my data link")
		}
		status, hdr, page := getPage(t, e.st, ann, "/account/export")
		if status != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") || !strings.Contains(page, `"email": "ann@example.com"`) {
			t.Errorf("Download my data: %d %v", status, hdr)
		}
		for what, v := range secrets {
			if strings.Contains(page, v) {
				t.Errorf("the download holds the %s", what)
			}
		}
	})
}
