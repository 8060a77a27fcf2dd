package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"portal/internal/app"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

const surveyPassword = "survey horse 12"

// newSurveyAPIEnv is a Portal whose PORTAL_OPERATORS names
// ops@example.com, with ann@ and ops@ signed up.
func newSurveyAPIEnv(t *testing.T, d store.Dialect) *apiEnv {
	t.Helper()
	st := testenv.NewStackWith(t, testenv.OpenDB(t, d), testenv.StackOptions{Operators: []string{"ops@example.com"}})
	e := &apiEnv{t: t, st: st, spec: mistspec.Load(t)}
	e.signUp("ann@example.com", surveyPassword, "")
	e.signUp("ops@example.com", surveyPassword, "")
	return e
}

// relogin logs in again (sessions end when the clock moves days on).
func (e *apiEnv) relogin(email string) *http.Client {
	e.t.Helper()
	c, r := e.login(email, surveyPassword)
	e.want(r, 200, "login "+email)
	return c
}

// wantRefused fails unless r is status with a detail containing want and,
// when field is set, names it.
func (e *apiEnv) wantRefused(r testenv.Response, status int, field, want, what string) {
	e.t.Helper()
	if r.Status != status {
		e.t.Errorf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
		return
	}
	m := r.JSON(e.t)
	if d, _ := m["detail"].(string); !strings.Contains(d, want) {
		e.t.Errorf("%s: detail %q, want it to contain %q", what, d, want)
	}
	if field != "" && m["field"] != field {
		e.t.Errorf("%s: field %v, want %q", what, m["field"], field)
	}
}

// TestSurveyAPI: GET and POST /api/v1/self/survey through the prompt's
// life (not due, due on the seventh day, snoozed 30 days, answered), every
// bad answer refused with a 4xx that says why, and the results for
// operators only, with bad periods refused.
func TestSurveyAPI(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newSurveyAPIEnv(t, d)
		signedUp := e.st.Clock.Now()
		ann := e.relogin("ann@example.com")
		status := func(c *http.Client) map[string]any {
			t.Helper()
			r := e.do(c, "GET", "/api/v1/self/survey", nil)
			e.want(r, 200, "GET /api/v1/self/survey")
			return r.JSON(t)
		}
		if st := status(ann); st["due"] != false || st["eligible_from"] != float64(signedUp.Add(app.SurveyAfter).Unix()) || st["dont_ask_again"] != false {
			t.Fatalf("a new account's survey status = %v", st)
		}
		e.st.Clock.Advance(app.SurveyAfter)
		ann = e.relogin("ann@example.com")
		if st := status(ann); st["due"] != true {
			t.Fatalf("status on the seventh day = %v, want due", st)
		}

		// Not now: 30 days.
		r := e.do(ann, "POST", "/api/v1/self/survey", map[string]any{"action": "snooze"})
		e.want(r, 200, "snooze")
		if st := r.JSON(t); st["due"] != false || st["snoozed_until"] != float64(e.st.Clock.Now().Add(app.SurveySnooze).Unix()) {
			t.Fatalf("after snooze = %v", st)
		}

		// Bad answers: 400 (413 for a body over the cap), naming the field.
		for _, c := range []struct {
			name, body, field, want string
		}{
			{"empty answer", `{}`, "satisfaction", "satisfaction is required"},
			{"satisfaction null", `{"satisfaction": null, "ease": 3, "purpose": "api"}`, "satisfaction", "satisfaction is required"},
			{"satisfaction 0", `{"satisfaction": 0, "ease": 3, "purpose": "api"}`, "satisfaction", "from 1 to 5, not 0"},
			{"satisfaction 6", `{"satisfaction": 6, "ease": 3, "purpose": "api"}`, "satisfaction", "from 1 to 5, not 6"},
			{"satisfaction 4.5", `{"satisfaction": 4.5, "ease": 3, "purpose": "api"}`, "satisfaction", "whole number from 1 to 5, not 4.5"},
			{"satisfaction a string", `{"satisfaction": "4", "ease": 3, "purpose": "api"}`, "satisfaction", `whole number from 1 to 5, not "4"`},
			{"satisfaction true", `{"satisfaction": true, "ease": 3, "purpose": "api"}`, "satisfaction", "not true"},
			{"ease missing", `{"satisfaction": 3, "purpose": "api"}`, "ease", "ease is required"},
			{"ease -1", `{"satisfaction": 3, "ease": -1, "purpose": "api"}`, "ease", "from 1 to 5"},
			{"purpose missing", `{"satisfaction": 3, "ease": 3}`, "purpose", "purpose is required"},
			{"purpose unknown", `{"satisfaction": 3, "ease": 3, "purpose": "gardening"}`, "purpose", `purpose "gardening" is not in the list: use one of account, organization`},
			{"purpose a number", `{"satisfaction": 3, "ease": 3, "purpose": 2}`, "", `field "purpose" must be of type string`},
			{"comment too long", fmt.Sprintf(`{"satisfaction": 3, "ease": 3, "purpose": "api", "comment": %q}`, strings.Repeat("x", 1001)), "comment", "at most 1000 characters (it has 1001)"},
			{"comment with a control character", `{"satisfaction": 3, "ease": 3, "purpose": "api", "comment": "a\u0007b"}`, "comment", "control characters"},
			{"unknown action", `{"action": "later"}`, "", `action must be "snooze"`},
			{"action and answer", `{"action": "never", "satisfaction": 5}`, "", "either an answer"},
			{"not JSON", `satisfaction=5`, "", "JSON"},
			{"an array", `[{"satisfaction": 5}]`, "", "must be a JSON object"},
		} {
			e.wantRefused(e.do(ann, "POST", "/api/v1/self/survey", c.body), 400, c.field, c.want, c.name)
		}
		r = e.raw(ann, "POST", "/api/v1/self/survey", `{"action": "never"}`, map[string]string{"Content-Type": "text/plain", "X-CSRFToken": e.cookie(ann, "csrftoken")})
		e.wantRefused(r, 400, "", "Content-Type must be application/json", "text/plain")
		if st := status(ann); st["answered_at"] != nil || st["dont_ask_again"] != false {
			t.Fatalf("a refused request changed the status: %v", st)
		}

		// An answer; a second the same day is 409, also by API token.
		r = e.do(ann, "POST", "/api/v1/self/survey", map[string]any{"satisfaction": 4, "ease": 5, "purpose": "inventory", "comment": "The inventory search is quick."})
		e.want(r, 200, "answer")
		if st := r.JSON(t); st["answered_today"] != true || st["due"] != false || st["answered_at"] != float64(e.st.Clock.Now().Unix()) {
			t.Errorf("after the answer = %v", st)
		}
		_, key := e.tokenCreate(ann, "survey script")
		token := map[string]string{"Authorization": "Token " + key, "Content-Type": "application/json"}
		e.wantRefused(e.raw(http.DefaultClient, "POST", "/api/v1/self/survey", `{"satisfaction": 1, "ease": 1, "purpose": "other"}`, token),
			409, "", "already answered the survey today", "a second answer the same day")

		// The results: 403 to a user, 200 to an operator (session or token).
		e.wantRefused(e.do(ann, "GET", "/api/v1/survey/results", nil), 403, "", "only the operators of this Portal see the survey's results", "results for a user")
		e.wantRefused(e.raw(http.DefaultClient, "GET", "/api/v1/survey/results", "", token), 403, "", "only the operators", "results for a user's token")
		ops := e.relogin("ops@example.com")
		r = e.do(ops, "GET", "/api/v1/survey/results", nil)
		e.want(r, 200, "results for an operator")
		res := r.JSON(t)
		sat, _ := res["satisfaction"].(map[string]any)
		counts, _ := sat["counts"].(map[string]any)
		comments, _ := res["comments"].([]any)
		if res["count"] != float64(1) || counts["4"] != float64(1) || counts["1"] != float64(0) || sat["average"] != float64(4) || len(comments) != 1 {
			t.Fatalf("results = %s", r.Body)
		}
		if c := comments[0].(map[string]any); c["comment"] != "The inventory search is quick." || c["date"] != e.st.Clock.Now().UTC().Format(time.DateOnly) {
			t.Errorf("comment = %v", c)
		}
		if strings.Contains(string(r.Body), "ann@example.com") || strings.Contains(string(r.Body), "Test User") {
			t.Errorf("the results name who answered: %s", r.Body)
		}
		today := e.st.Clock.Now().UTC().Format(time.DateOnly)
		tomorrow := e.st.Clock.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
		if r := e.do(ops, "GET", "/api/v1/survey/results?from="+tomorrow, nil); r.Status != 200 || r.JSON(t)["count"] != float64(0) {
			t.Errorf("results since tomorrow: %d %s", r.Status, r.Body)
		}
		if r := e.do(ops, "GET", "/api/v1/survey/results?from="+today+"&to="+today, nil); r.Status != 200 || r.JSON(t)["count"] != float64(1) || r.JSON(t)["from"] != today {
			t.Errorf("results of today: %d %s", r.Status, r.Body)
		}
		for _, c := range []struct{ query, field, want string }{
			{"from=2026-13-01", "from", "from must be a date as YYYY-MM-DD"},
			{"to=tomorrow", "to", `to must be a date as YYYY-MM-DD (such as 2026-03-01), not "tomorrow"`},
			{"from=" + tomorrow + "&to=" + today, "from", "must not be after to"},
		} {
			e.wantRefused(e.do(ops, "GET", "/api/v1/survey/results?"+c.query, nil), 400, c.field, c.want, "results ?"+c.query)
		}

		// The export holds the answer.
		r = e.do(ann, "GET", "/api/v1/self/export", nil)
		e.want(r, 200, "export")
		survey, _ := r.JSON(t)["survey"].(map[string]any)
		if answers, _ := survey["answers"].([]any); len(answers) != 1 || answers[0].(map[string]any)["purpose"] != "inventory" {
			t.Errorf("export's survey = %v", survey)
		}
	})
}
