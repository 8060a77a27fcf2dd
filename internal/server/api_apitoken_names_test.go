package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPITokenNamesUnique: two of a user's API tokens cannot share a name
// (compared without regard to case), on creation or rename, through the
// API (409 with the reason) and My Account (the error at the name field,
// what was typed kept); another user's token may have the name.
func TestAPITokenNamesUnique(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		ann := e.signUp("ann@example.com", "correct horse 1", "")
		ciID, _ := e.tokenCreate(ann, "ci")
		deployID, _ := e.tokenCreate(ann, "deploy")

		r := e.do(ann, "POST", "/api/v1/self/apitokens", map[string]any{"name": " CI "})
		e.want(r, 409, "a second token named CI")
		if got := e.detail(r); got != `you already have an API token named "ci": choose another name` {
			t.Errorf("detail = %q", got)
		}
		r = e.do(ann, "PUT", "/api/v1/self/apitokens/"+deployID, map[string]any{"name": "Ci"})
		e.want(r, 409, "renaming deploy to Ci")
		if !strings.Contains(e.detail(r), `named "ci"`) {
			t.Errorf("detail = %q", e.detail(r))
		}
		names := map[any]bool{}
		for _, tk := range e.tokens(ann) {
			names[tk["name"]] = true
		}
		if len(names) != 2 || !names["ci"] || !names["deploy"] {
			t.Errorf("tokens after the refusals: %v", names)
		}
		if n, _ := e.auditCount(ann, "Created API token ci"); n != 1 {
			t.Errorf("%d audit entries for creating ci", n)
		}
		// A token keeps its own name, in another case too.
		e.want(e.do(ann, "PUT", "/api/v1/self/apitokens/"+ciID, map[string]any{"name": "CI"}), 200, "renaming ci to CI")
		// Another user's token may have the name.
		bob := e.signUp("bob@example.com", "correct horse 2", "")
		e.tokenCreate(bob, "ci")

		// My Account: the error in API Tokens, at the name field, the name kept.
		page := postForm(t, e.st, ann, "/account/apitokens", url.Values{"name": {"deploy"}})
		if page.Status != 409 {
			t.Fatalf("GUI: a second token named deploy: %d", page.Status)
		}
		html := string(page.Body)
		for _, want := range []string{
			`id="apitokens-error"`, `You already have an API token named &#34;deploy&#34;: choose another name.`,
			`<input id="apitoken-name" name="name" required aria-invalid="true" aria-describedby="apitokens-error"`, `value="deploy"`,
		} {
			if !strings.Contains(html, want) {
				t.Errorf("GUI: the page after a second token named deploy lacks %s", want)
			}
		}
	})
}

// TestAPITokenNamesRace: 8 creations of a token with the same name (in
// different cases) at the same moment: exactly one is created, the others
// are refused with 409 and the reason, on both databases (PostgreSQL's
// transactions do not see each other's new row: its unique index decides).
func TestAPITokenNamesRace(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		ann := st.SignUp(t, "ann@example.com", "correct horse 1", "")
		var (
			mu      sync.Mutex
			details []string
			reqs    []func() int
		)
		for i := range 8 {
			name := []string{"nightly", "Nightly", "NIGHTLY", " nightly "}[i%4]
			reqs = append(reqs, func() int {
				status, detail := sendJSON(st, ann, "POST", "/api/v1/self/apitokens", map[string]any{"name": name})
				if status == http.StatusConflict {
					mu.Lock()
					details = append(details, detail)
					mu.Unlock()
				}
				return status
			})
		}
		statuses, won := race(t, "8 tokens named nightly", []int{http.StatusConflict}, reqs...)
		if won != 1 {
			t.Fatalf("%d of 8 creations succeeded (%v), want exactly 1", won, statuses)
		}
		for _, d := range details {
			if !strings.HasPrefix(d, "you already have an API token named ") || !strings.HasSuffix(d, ": choose another name") {
				t.Errorf("detail of a refused creation = %q", d)
			}
		}
		u, err := st.DB.GetUserByEmail(context.Background(), "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := st.DB.CountUserAPITokens(context.Background(), u.ID); err != nil || n != 1 {
			t.Errorf("%d tokens stored (%v), want 1", n, err)
		}
	})
}
