package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIBadJSON sends broken request bodies to every endpoint that reads
// one: each answer is a 4xx {"detail": …} (never a 5xx) and nothing is
// written.
func TestAPIBadJSON(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		site := e.createSite(c, org, "HQ")
		csrf := e.cookie(c, "csrftoken")

		targets := []struct {
			method, path string
			authed       bool
			typeError    string // a body with a field of the wrong type
			field        string
		}{
			{"POST", "/api/v1/register", false, `{"email": 5, "first_name": "A", "last_name": "B", "password": "long enough"}`, "email"},
			{"POST", "/api/v1/register/resend", false, `{"email": ["ann@example.com"]}`, "email"},
			{"POST", "/api/v1/login", false, `{"email": "ann@example.com", "password": true}`, "password"},
			{"POST", "/api/v1/orgs", true, `{"name": 5}`, "name"},
			{"PUT", "/api/v1/orgs/" + org, true, `{"session_expiry": "ten"}`, "session_expiry"},
			{"PUT", "/api/v1/orgs/" + org, true, `{"session_expiry": 10.5}`, "session_expiry"},
			{"PUT", "/api/v1/orgs/" + org, true, `{"session_expiry": 1e400}`, "session_expiry"},
			{"POST", "/api/v1/orgs/" + org + "/sites", true, `{"name": {"first": "HQ"}}`, "name"},
			{"PUT", "/api/v1/sites/" + site, true, `{"timezone": 5}`, "timezone"},
		}
		big := `{"name": "` + strings.Repeat("a", 2<<20) + `"}`
		bodies := []struct {
			name, body, contentType string
			status                  int
			detail                  string // in the detail, lower-cased
		}{
			{"unterminated", `{"name": "x"`, "", 400, "json"},
			{"unquoted", `{name: x}`, "", 400, "json parse error"},
			{"trailing comma", `{"name": "x",}`, "", 400, "json parse error"},
			{"single quotes", `{'name': 'x'}`, "", 400, "json parse error"},
			{"array", `[{"name": "x"}]`, "", 400, "json object"},
			{"empty array", `[]`, "", 400, "json object"},
			{"string", `"name"`, "", 400, "json object"},
			{"number", `5`, "", 400, "json object"},
			{"null", `null`, "", 400, "json object"},
			{"true", `true`, "", 400, "json object"},
			{"trailing garbage", `{"name": "x"} garbage`, "", 400, "single json object"},
			{"two objects", `{"name": "x"}{"name": "y"}`, "", 400, "single json object"},
			{"extra brace", `{"name": "x"}}`, "", 400, "single json object"},
			{"empty body", ``, "", 400, "json object"},
			{"only spaces", "   \n\t ", "", 400, "json object"},
			{"nested too deep", `{"name": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "", 400, "json"},
			{"invalid escape", `{"name": "\x"}`, "", 400, "json parse error"},
			{"control character", "{\"name\": \"a\x01b\"}", "", 400, "json parse error"},
			{"text/plain", `{"name": "x"}`, "text/plain", 400, "content-type"},
			{"form", `name=x`, "application/x-www-form-urlencoded", 400, "content-type"},
			{"bad media type", `{"name": "x"}`, "application/json-patch+json", 400, "content-type"},
			{"unparsable media type", `{"name": "x"}`, "application/json; charset", 400, "content-type"},
			{"2 MiB", big, "", 413, "too large"},
		}
		for _, tg := range targets {
			client := e.st.Client()
			hdr := map[string]string{}
			if tg.authed {
				client = c
				hdr["X-CSRFToken"] = csrf
			}
			cases := bodies
			cases = append(cases, struct {
				name, body, contentType string
				status                  int
				detail                  string
			}{"wrong type", tg.typeError, "", 400, `"` + tg.field + `"`})
			for _, bc := range cases {
				h := map[string]string{"Content-Type": bc.contentType}
				if bc.contentType == "" {
					h["Content-Type"] = "application/json"
				}
				for k, v := range hdr {
					h[k] = v
				}
				r := e.raw(client, tg.method, tg.path, bc.body, h)
				if r.Status != bc.status {
					t.Errorf("%s %s, %s: %d %s, want %d", tg.method, tg.path, bc.name, r.Status, r.Body, bc.status)
					continue
				}
				if r.Status >= 400 && !strings.Contains(strings.ToLower(e.detail(r)), bc.detail) {
					t.Errorf("%s %s, %s: detail %q lacks %q", tg.method, tg.path, bc.name, e.detail(r), bc.detail)
				}
			}
		}

		// Media type parameters and case are accepted.
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
			r := e.raw(c, "PUT", "/api/v1/orgs/"+org, `{"name":"Acme"}`, map[string]string{"Content-Type": ct, "X-CSRFToken": csrf})
			e.want(r, 200, "Content-Type "+ct)
		}

		// Nothing was written.
		if ids := e.orgIDs(c); len(ids) != 1 {
			t.Errorf("organizations: %v", ids)
		}
		r := e.do(c, "GET", "/api/v1/orgs/"+org, nil)
		if o := r.JSON(t); o["name"] != "Acme" || o["session_expiry"] != float64(1440) {
			t.Errorf("org = %s", r.Body)
		}
		r = e.do(c, "GET", "/api/v1/orgs/"+org+"/sites", nil)
		if l := e.list(r); len(l) != 1 || l[0]["name"] != "HQ" || l[0]["timezone"] != "" {
			t.Errorf("sites = %s", r.Body)
		}
		r = e.do(c, "GET", "/api/v1/self/logs", nil)
		var changes []string
		for _, x := range r.JSON(t)["results"].([]any) {
			if msg := x.(map[string]any)["message"].(string); msg != "Logged in" {
				changes = append(changes, msg)
			}
		}
		slices.Sort(changes)
		want := []string{"Created organization Acme", "Created site HQ", "Signed up and verified email address", "Updated organization Acme", "Updated organization Acme"}
		if !slices.Equal(changes, want) {
			t.Errorf("audited changes %q, want %q", changes, want)
		}
	})
}

// TestAPIUnknownPaths: unknown API paths answer 404 JSON, a known path
// with a method it does not take 405 JSON with Allow; a
// missing or bogus session answers 401 JSON.
func TestAPIUnknownPaths(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		for _, client := range []*http.Client{c, e.st.Client()} {
			for _, rq := range []struct{ method, path string }{
				{"GET", "/api/v1/nope"},
				{"POST", "/api/v1/nope"},
				{"GET", "/api/v2/self"},
				{"GET", "/api/"},
				{"GET", "/api/v1/"},
				{"GET", "/api/v1/sites/"},
				{"GET", "/api/v1/orgs/" + org + "/sites/extra"},
			} {
				r := e.raw(client, rq.method, rq.path, "", map[string]string{"X-CSRFToken": e.cookie(client, "csrftoken")})
				if r.Status != 404 {
					t.Errorf("%s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
				}
			}
			// A known path with a method it does not take: 405 with Allow.
			for _, rq := range []struct{ method, path, allow string }{
				{"GET", "/api/v1/orgs", "POST"},
				{"PATCH", "/api/v1/orgs/" + org, "GET, PUT, DELETE"},
				{"GET", "/api/v1/login", "POST"},
				{"PATCH", "/api/v1/self/apitokens", "GET, POST"},
			} {
				r := e.raw(client, rq.method, rq.path, "", map[string]string{"X-CSRFToken": e.cookie(client, "csrftoken")})
				if r.Status != 405 || r.Header.Get("Allow") != rq.allow || e.detail(r) == "" {
					t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q", rq.method, rq.path, r.Status, r.Header.Get("Allow"), r.Body, rq.allow)
				}
			}
		}

		anon := e.st.Client()
		for _, path := range []string{"/api/v1/self", "/api/v1/self/logs", "/api/v1/orgs/" + org, "/api/v1/orgs/" + org + "/sites"} {
			for _, cookie := range []string{"", "bogus", strings.Repeat("x", 4000), e.cookie(c, "csrftoken")} {
				client := anon
				if cookie != "" {
					client = e.clientWith(map[string]string{"sessionid": cookie})
				}
				r := e.do(client, "GET", path, nil)
				if r.Status != 401 {
					t.Errorf("GET %s with sessionid %.10q: %d %s", path, cookie, r.Status, r.Body)
				}
			}
		}
		for _, rq := range []struct{ method, path, body string }{
			{"POST", "/api/v1/orgs", `{"name":"x"}`},
			{"POST", "/api/v1/logout", ""},
			{"PUT", "/api/v1/orgs/" + org, `{"name":"x"}`},
			{"DELETE", "/api/v1/orgs/" + org, ""},
		} {
			if r := e.raw(anon, rq.method, rq.path, rq.body, nil); r.Status != 401 {
				t.Errorf("anonymous %s %s: %d %s", rq.method, rq.path, r.Status, r.Body)
			}
		}
	})
}

// TestAPIBadQuery: malformed pagination and time parameters are refused
// with a detail, extreme ones never cause a 5xx.
func TestAPIBadQuery(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		for _, path := range []string{"/api/v1/self/logs", "/api/v1/orgs/" + org + "/sites"} {
			for _, q := range []string{"limit=0", "limit=abc", "limit=5000", "limit=-1", "limit=%00", "limit=0x10", "limit=%205",
				"limit=99999999999999999999999", "page=-1", "page=0", "page=abc", "page=1.0", "page=99999999999999999999999"} {
				if r := e.do(c, "GET", path+"?"+q, nil); r.Status != 400 {
					t.Errorf("GET %s?%s: %d %s", path, q, r.Status, r.Body)
				}
			}
			// Parameters that do not apply, or repeat, are harmless.
			for _, q := range []string{"limit=5&limit=abc", "unknown=1", "limit=1000&page=1000000", "page=2"} {
				if r := e.do(c, "GET", path+"?"+q, nil); r.Status != 200 {
					t.Errorf("GET %s?%s: %d %s", path, q, r.Status, r.Body)
				}
			}
		}
		for _, q := range []string{"duration=abc", "duration=", "duration=1", "duration=d", "duration=1.5d", "duration=1D", "duration=10000w",
			"start=abc", "start=-1", "end=-1", "start=2&end=1", "start=1&end=1", "end=1.5"} {
			r := e.do(c, "GET", "/api/v1/self/logs?"+q, nil)
			if q == "duration=" {
				e.want(r, 200, "empty duration is the default") // like an absent one
				continue
			}
			if r.Status != 400 {
				t.Errorf("logs ?%s: %d %s", q, r.Status, r.Body)
			}
		}
		// Times past the year 9999 are refused (the window arithmetic
		// would overflow); extreme but representable ones are answered.
		for _, q := range []string{"start=9223372036854775807", "end=9223372036854775807", "start=1&end=9223372036854775807",
			"start=9223372036854775806&end=9223372036854775807", "start=253402300800"} {
			if r := e.do(c, "GET", "/api/v1/self/logs?"+q, nil); r.Status != 400 {
				t.Errorf("logs ?%s: %d %s", q, r.Status, r.Body)
			}
		}
		for _, q := range []string{"end=1&duration=3660w", "start=1", "end=1", "start=253402300799", "start=1&end=253402300799"} {
			r := e.do(c, "GET", "/api/v1/self/logs?"+q, nil)
			e.want(r, 200, "logs ?"+q)
			if m := r.JSON(t); m["start"].(float64) >= m["end"].(float64) {
				t.Errorf("logs ?%s: start %v not before end %v", q, m["start"], m["end"])
			}
		}
	})
}

// TestAPIDuplicateKeys: a key given twice in one JSON object, at any
// depth, is refused with 400 rather than letting the last one win (a
// filter in front of Portal may have read the first). encoding/json
// matches keys to fields regardless of case, so keys that differ only in
// case count as the same key.
func TestAPIDuplicateKeys(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("ann@example.com", "correct horse 1", "Acme")
		org := e.firstOrg(c)
		csrf := e.cookie(c, "csrftoken")
		anon := e.st.Client()
		for _, tc := range []struct {
			client       *http.Client
			method, path string
			body, detail string
		}{
			{anon, "POST", "/api/v1/register", `{"email": "bob@example.com", "first_name": "B", "last_name": "C", "password": "correct horse 2", "email": "ann@example.com"}`,
				`duplicate key "email" in the JSON body`},
			{anon, "POST", "/api/v1/login", `{"email": "bob@example.com", "Email": "ann@example.com", "password": "correct horse 1"}`,
				`duplicate key "Email" in the JSON body`},
			{anon, "POST", "/api/v1/login", `{"email": "ann@example.com", "password": "x", "pass\u0077ord": "correct horse 1"}`,
				`duplicate key "password" in the JSON body`},
			{c, "PUT", "/api/v1/orgs/" + org, `{"name": "Evil", "NAME": "Acme"}`,
				`duplicate key "NAME" in the JSON body`},
			{c, "PUT", "/api/v1/orgs/" + org + "/setting", `{"password_policy": {"enabled": true, "min_length": 8, "min_length": 32}}`,
				`duplicate key "min_length" in the JSON body`},
			{c, "POST", "/api/v1/orgs/" + org + "/invites", `{"email": "cy@example.com", "first_name": "Cy", "last_name": "D", "privileges": [{"scope": "org", "role": "read", "role": "admin"}]}`,
				`duplicate key "role" in the JSON body`},
			// Unknown keys are ignored, but not twice either.
			{c, "PUT", "/api/v1/orgs/" + org, `{"name": "Acme", "x": {"y": 1, "y": 2}}`,
				`duplicate key "y" in the JSON body`},
		} {
			r := e.raw(tc.client, tc.method, tc.path, tc.body, map[string]string{"Content-Type": "application/json", "X-CSRFToken": csrf})
			if r.Status != 400 || !strings.HasPrefix(e.detail(r), tc.detail) {
				t.Errorf("%s %s %s: %d %s, want 400 with detail %q", tc.method, tc.path, tc.body, r.Status, r.Body, tc.detail)
			}
		}
		// The same key in different objects is no duplicate.
		r := e.raw(c, "PUT", "/api/v1/orgs/"+org+"/setting", `{"password_policy": {"enabled": false}, "x": {"enabled": true}}`,
			map[string]string{"Content-Type": "application/json", "X-CSRFToken": csrf})
		e.want(r, 200, "the same key in two objects")
		// Nothing was done: no sign-up, no invitation, no change.
		for _, addr := range []string{"bob@example.com", "cy@example.com"} {
			if m := e.mailsTo(addr); len(m) != 0 {
				t.Errorf("%d mails to %s", len(m), addr)
			}
		}
		r = e.do(c, "GET", "/api/v1/orgs/"+org, nil)
		if o := r.JSON(t); o["name"] != "Acme" {
			t.Errorf("org = %s", r.Body)
		}
	})
}
