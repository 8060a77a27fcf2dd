package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/internal/mistspec"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// Helpers shared by the API end-to-end tests (api_*_test.go).

const (
	subjectVerify = "Confirm your email address for Portal"
	subjectExists = "Someone tried to sign up for Portal with your address"
)

// apiEnv is one running Portal on one database, with the Mist spec that
// every response on a Mist path is validated against.
type apiEnv struct {
	t    *testing.T
	st   *testenv.Stack
	spec *mistspec.Spec
}

func newAPIEnv(t *testing.T, spec *mistspec.Spec, d store.Dialect) *apiEnv {
	t.Helper()
	return &apiEnv{t: t, st: testenv.NewStack(t, d), spec: spec}
}

// mistRoutes are the Mist operations Portal serves; their answers must
// match the Mist document.
var mistRoutes = map[string]bool{
	"POST /api/v1/register":                true,
	"POST /api/v1/register/verify/{token}": true,
	"POST /api/v1/login":                   true,
	"POST /api/v1/logout":                  true,
	"GET /api/v1/self":                     true,
	"GET /api/v1/self/logs":                true,
	"POST /api/v1/orgs":                    true,
	"GET /api/v1/orgs/{org_id}":            true,
	"PUT /api/v1/orgs/{org_id}":            true,
	"DELETE /api/v1/orgs/{org_id}":         true,
	"GET /api/v1/orgs/{org_id}/sites":      true,
	"POST /api/v1/orgs/{org_id}/sites":     true,
	"GET /api/v1/sites/{site_id}":          true,
	"PUT /api/v1/sites/{site_id}":          true,
	"DELETE /api/v1/sites/{site_id}":       true,
	// E-mail notification subscriptions (api_subscriptions.go).
	"POST /api/v1/orgs/{org_id}/subscriptions":     true,
	"DELETE /api/v1/orgs/{org_id}/subscriptions":   true,
	"POST /api/v1/sites/{site_id}/subscriptions":   true,
	"DELETE /api/v1/sites/{site_id}/subscriptions": true,
	"GET /api/v1/self/subscriptions":               true,
}

// check asserts what holds for every API answer: never a 5xx, always JSON,
// an error is {"detail": "<non-empty>"}, and on a Mist path the answer
// matches the Mist document. Statuses that document does not list for an
// operation (the 403 and 429 of login, a 413) are checked against the
// Mist error schema of that status.
func (e *apiEnv) check(method, path string, r testenv.Response) {
	e.t.Helper()
	checkAPIResponse(e.t, e.spec, method, path, r)
}

func checkAPIResponse(t testing.TB, spec *mistspec.Spec, method, path string, r testenv.Response) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s %s: status %d: %s", method, path, r.Status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json; body %q", method, path, ct, r.Body)
		return
	}
	if !json.Valid(r.Body) {
		t.Errorf("%s %s: body is not JSON: %q", method, path, r.Body)
		return
	}
	if r.Status >= 400 {
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Errorf("%s %s: error body is not a JSON object: %s", method, path, r.Body)
			return
		}
		if d, _ := m["detail"].(string); strings.TrimSpace(d) == "" {
			t.Errorf("%s %s: error body without a detail: %s", method, path, r.Body)
		}
	}
	tmpl, err := spec.MatchPath(path)
	if err != nil || !mistRoutes[method+" "+tmpl] {
		return // our own path, or not an operation we serve
	}
	documented := map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 429: true}
	if tmpl == "/api/v1/login" {
		documented = map[int]bool{200: true, 400: true}
	}
	if documented[r.Status] {
		body := r.Body
		if tmpl == "/api/v1/self" && r.Status == 200 {
			body = withoutEmptyPrivileges(t, body)
		}
		spec.ValidateResponse(t, method, path, r.Status, body)
		return
	}
	schema := map[int]string{400: "response_http400", 401: "response_http401", 403: "response_http403", 404: "response_http404", 429: "response_http429"}[r.Status]
	if tmpl == "/api/v1/login" && r.Status >= 400 {
		spec.ValidateSchema(t, "response_login_failure", r.Body) // what the SDK reads on failure
	}
	if schema == "" {
		schema = "response_detail_string"
	}
	spec.ValidateSchema(t, schema, r.Body)
}

// withoutEmptyPrivileges drops an empty "privileges" list from an admin
// object. The Mist document requires at least one item, but an account that
// belongs to no organization (yet, or any more) has none; every other field
// is still validated.
func withoutEmptyPrivileges(t testing.TB, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	if p, ok := m["privileges"].([]any); !ok || len(p) > 0 {
		return body
	}
	delete(m, "privileges")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// do sends a JSON request as a Mist client does (X-CSRFToken from the
// cookie) and checks the answer.
func (e *apiEnv) do(c *http.Client, method, path string, body any) testenv.Response {
	e.t.Helper()
	r := e.st.Do(e.t, c, method, path, body)
	e.check(method, path, r)
	return r
}

// raw sends body as is, with exactly the headers given (a JSON
// Content-Type is added for a non-empty body unless hdr sets one), and
// checks the answer. It does not add X-CSRFToken.
func (e *apiEnv) raw(c *http.Client, method, path, body string, hdr map[string]string) testenv.Response {
	e.t.Helper()
	r := sendRaw(e.t, e.st, c, method, path, strings.NewReader(body), body != "", hdr)
	e.check(method, path, r)
	return r
}

func sendRaw(t testing.TB, st *testenv.Stack, c *http.Client, method, path string, body io.Reader, hasBody bool, hdr map[string]string) testenv.Response {
	t.Helper()
	if !hasBody {
		body = nil
	}
	req, err := http.NewRequest(method, st.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return testenv.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// want fails the test unless r has the status.
func (e *apiEnv) want(r testenv.Response, status int, what string) {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
}

// detail returns the detail of an error answer.
func (e *apiEnv) detail(r testenv.Response) string {
	e.t.Helper()
	d, _ := r.JSON(e.t)["detail"].(string)
	return d
}

// signUp registers, verifies and logs in a user ("Test User").
func (e *apiEnv) signUp(email, password, orgName string) *http.Client {
	e.t.Helper()
	return e.st.SignUp(e.t, email, password, orgName)
}

// login logs in with a new client.
func (e *apiEnv) login(email, password string) (*http.Client, testenv.Response) {
	e.t.Helper()
	c := e.st.Client()
	r := e.do(c, "POST", "/api/v1/login", map[string]any{"email": email, "password": password})
	return c, r
}

// register posts a sign-up with the given fields over the defaults.
func (e *apiEnv) register(c *http.Client, email, password string, extra map[string]any) testenv.Response {
	e.t.Helper()
	body := map[string]any{"email": email, "first_name": "Test", "last_name": "User", "password": password}
	for k, v := range extra {
		body[k] = v
	}
	return e.do(c, "POST", "/api/v1/register", body)
}

// waitMail returns the n-th (from 1) mail to addr whose subject is subject.
func (e *apiEnv) waitMail(addr, subject string, n int) smtptest.Message {
	e.t.Helper()
	seen := 0
	return e.st.SMTP.WaitFor(e.t, func(m smtptest.Message) bool {
		if !smtptest.To(addr)(m) || m.Subject != subject {
			return false
		}
		seen++
		return seen == n
	}, 10*time.Second)
}

// mailsTo returns the mails received so far for addr.
func (e *apiEnv) mailsTo(addr string) []smtptest.Message {
	var out []smtptest.Message
	for _, m := range e.st.SMTP.Messages() {
		if smtptest.To(addr)(m) {
			out = append(out, m)
		}
	}
	return out
}

// linkToken returns the token of the first link in m that starts with prefix.
func (e *apiEnv) linkToken(m smtptest.Message, prefix string) string {
	e.t.Helper()
	link := smtptest.FindLink(m.Text, e.st.URL+prefix)
	if link == "" {
		e.t.Fatalf("no %s link in the mail %q to %v:\n%s", prefix, m.Subject, m.To, m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Query().Get("token")
}

// verifyToken returns the token of the n-th verification mail to addr.
func (e *apiEnv) verifyToken(addr string, n int) string {
	e.t.Helper()
	return e.linkToken(e.waitMail(addr, subjectVerify, n), "/verify/register?token=")
}

// cookie returns the value of the named cookie in c's jar.
func (e *apiEnv) cookie(c *http.Client, name string) string {
	u, _ := url.Parse(e.st.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// clientWith returns a new client whose jar holds the given cookies.
func (e *apiEnv) clientWith(cookies map[string]string) *http.Client {
	c := e.st.Client()
	u, _ := url.Parse(e.st.URL)
	var cks []*http.Cookie
	for k, v := range cookies {
		cks = append(cks, &http.Cookie{Name: k, Value: v, Path: "/"})
	}
	c.Jar.SetCookies(u, cks)
	return c
}

// self returns GET /api/v1/self.
func (e *apiEnv) self(c *http.Client) map[string]any {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/self", nil)
	e.want(r, 200, "GET /api/v1/self")
	return r.JSON(e.t)
}

// orgIDs returns the ids of the organizations of the privileges in /self.
func (e *apiEnv) orgIDs(c *http.Client) []string {
	e.t.Helper()
	var ids []string
	for _, p := range e.self(c)["privileges"].([]any) {
		ids = append(ids, p.(map[string]any)["org_id"].(string))
	}
	return ids
}

// firstOrg returns the id of the caller's first organization.
func (e *apiEnv) firstOrg(c *http.Client) string {
	e.t.Helper()
	ids := e.orgIDs(c)
	if len(ids) == 0 {
		e.t.Fatal("caller has no organization")
	}
	return ids[0]
}

// createSite creates a site and returns its id.
func (e *apiEnv) createSite(c *http.Client, orgID, name string) string {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/orgs/"+orgID+"/sites", map[string]any{"name": name})
	e.want(r, 200, "create site "+name)
	return r.JSON(e.t)["id"].(string)
}

// list decodes a JSON array answer.
func (e *apiEnv) list(r testenv.Response) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatalf("body is not a JSON array of objects: %v: %s", err, r.Body)
	}
	return out
}

// race sends the requests at the same moment and returns their statuses
// and how many got 200 (for the "N at once, exactly one wins" tests); any
// status other than 200 or one of losers fails the test.
func race(t *testing.T, what string, losers []int, requests ...func() int) (statuses []int, won int) {
	t.Helper()
	statuses = make([]int, len(requests))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, request := range requests {
		wg.Go(func() {
			<-start
			statuses[i] = request()
		})
	}
	close(start)
	wg.Wait()
	for i, st := range statuses {
		switch {
		case st == http.StatusOK:
			won++
		case !slices.Contains(losers, st):
			t.Errorf("%s: request %d: status %d", what, i, st)
		}
	}
	return statuses, won
}

// wantOrg checks, as c, that the organization has the name and exactly the
// sites named (in the list's order).
func (e *apiEnv) wantOrg(c *http.Client, org, name string, sites ...string) {
	e.t.Helper()
	r := e.do(c, "GET", "/api/v1/orgs/"+org, nil)
	e.want(r, 200, "GET organization "+org)
	if got := r.JSON(e.t)["name"]; got != name {
		e.t.Errorf("organization %s is named %v, want %q", org, got, name)
	}
	r = e.do(c, "GET", "/api/v1/orgs/"+org+"/sites", nil)
	e.want(r, 200, "GET sites of "+org)
	var got []string
	for _, s := range e.list(r) {
		n, _ := s["name"].(string)
		got = append(got, n)
	}
	if !slices.Equal(got, sites) {
		e.t.Errorf("sites of %s = %q, want %q", org, got, sites)
	}
}
