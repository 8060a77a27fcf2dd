package server_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

// postForm posts a GUI form with the session's CSRF token and returns
// the answer, not following a redirect.
func (e *apiEnv) postForm(c *http.Client, path string, form url.Values) testenv.Response {
	e.t.Helper()
	form.Set("csrf_token", e.cookie(c, "csrftoken"))
	return sendRaw(e.t, e.st, c, "POST", path, strings.NewReader(form.Encode()), true, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// htmlPage GETs a GUI page and returns its status and HTML.
func (e *apiEnv) htmlPage(c *http.Client, path string) (int, string) {
	e.t.Helper()
	r := sendRaw(e.t, e.st, c, "GET", path, nil, false, nil)
	return r.Status, string(r.Body)
}

// inputTag is the <input> of a radio group's value in a page.
func inputTag(html, name, value string) string {
	at := strings.Index(html, `name="`+name+`" value="`+value+`"`)
	if at < 0 {
		return ""
	}
	start := strings.LastIndex(html[:at], "<input")
	end := strings.Index(html[at:], ">")
	return html[start : at+end+1]
}

// TestSurveyPromptPages: the prompt shows on an ordinary page once the
// account is 7 days old, once per session, never on an error, login,
// survey or results page (which do not use up the session's one showing);
// Not now and Don't ask again answer it and say so where it was.
func TestSurveyPromptPages(t *testing.T) {
	e := newSurveyAPIEnv(t, store.SQLite)
	const prompt = `id="survey-prompt"`
	ann := e.relogin("ann@example.com")
	if _, html := e.htmlPage(ann, "/"); strings.Contains(html, prompt) {
		t.Fatal("the prompt shows on the first day")
	}
	e.st.Clock.Advance(app.SurveyAfter)
	ann = e.relogin("ann@example.com")
	for _, path := range []string{"/no-such-page", "/survey", "/survey/thanks", "/survey/results", "/login", "/account/delete"} {
		if _, html := e.htmlPage(ann, path); strings.Contains(html, prompt) {
			t.Errorf("the prompt shows on %s", path)
		}
	}
	status, html := e.htmlPage(ann, "/account")
	if status != 200 || !strings.Contains(html, prompt) {
		t.Fatalf("the prompt does not show on My Account (%d)", status)
	}
	for _, want := range []string{"Help us improve your experience.", "Let us know what you think. Do you have time for a two-minute survey?",
		`href="/survey?next=%2faccount"`, `value="snooze"`, ">Not now<", `value="never"`, ">Don't ask again<"} {
		if !strings.Contains(html, want) {
			t.Errorf("the prompt lacks %q", want)
		}
	}
	if strings.Contains(html, "autofocus") {
		t.Error("a page with the prompt moves the focus")
	}
	if _, html := e.htmlPage(ann, "/account"); strings.Contains(html, prompt) {
		t.Error("the prompt shows twice in one session")
	}

	// Not now, by form: back to the page, with the confirmation; no prompt
	// in a new session.
	ann = e.relogin("ann@example.com")
	if _, html := e.htmlPage(ann, "/"); !strings.Contains(html, prompt) {
		t.Fatal("a new session does not show the prompt")
	}
	r := e.postForm(ann, "/survey/prompt", url.Values{"action": {"snooze"}, "next": {"/account"}})
	if r.Status != 303 || r.Header.Get("Location") != "/account" {
		t.Fatalf("Not now: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if _, html := e.htmlPage(ann, "/account"); !strings.Contains(html, "We will not ask again for 30 days.") {
		t.Error("Not now: no confirmation on the page")
	}
	ann = e.relogin("ann@example.com")
	if _, html := e.htmlPage(ann, "/"); strings.Contains(html, prompt) {
		t.Error("the prompt shows after Not now")
	}
	// An outside address is not followed; a bad action is refused.
	if r := e.postForm(ann, "/survey/prompt", url.Values{"action": {"snooze"}, "next": {"//evil.example/x"}}); r.Header.Get("Location") != "/" {
		t.Errorf("Not now with an outside next: to %q", r.Header.Get("Location"))
	}
	if r := e.postForm(ann, "/survey/prompt", url.Values{"action": {"later"}}); r.Status != 400 || !strings.Contains(string(r.Body), "neither Not now nor Don") {
		t.Errorf("a bad action: %d", r.Status)
	}
	// Don't ask again.
	r = e.postForm(ann, "/survey/prompt", url.Values{"action": {"never"}, "next": {"/"}})
	if r.Status != 303 || r.Header.Get("Location") != "/" {
		t.Errorf("Don't ask again: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if _, html := e.htmlPage(ann, "/"); !strings.Contains(html, "Thank you. We will not ask you again.") {
		t.Error("Don't ask again: no confirmation on the page")
	}
	if st := e.do(ann, "GET", "/api/v1/self/survey", nil).JSON(t); st["dont_ask_again"] != true {
		t.Errorf("after Don't ask again: %v", st)
	}
}

// TestSurveyPageAndResults: the survey page's form (labelled radio
// groups), a bad answer shown again with its error tied to the field and
// what was typed kept, a good one leading to the thanks; the results page
// and CSV for an operator only, with the answer in the charts, the weeks,
// the comments and the CSV, and no name.
func TestSurveyPageAndResults(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newSurveyAPIEnv(t, d)
		ann := e.relogin("ann@example.com")
		status, html := e.htmlPage(ann, "/survey?next=/account")
		if status != 200 {
			t.Fatalf("survey page: %d", status)
		}
		for _, want := range []string{"<legend>What Did You Come to Do?</legend>", "<legend>How Easy Was It to Do What You Came to Do?</legend>",
			"<legend>Overall, How Satisfied Are You With Portal?</legend>", `name="satisfaction" value="5" required`, `name="purpose" value="inventory" required`,
			`maxlength="1000"`, `href="/account">Cancel`} {
			if !strings.Contains(html, want) {
				t.Errorf("the survey page lacks %q", want)
			}
		}

		form := url.Values{"satisfaction": {"4"}, "ease": {"9"}, "purpose": {"inventory"}, "comment": {"=cmd looks fine"}, "next": {"/account"}}
		r := e.postForm(ann, "/survey", form)
		body := string(r.Body)
		if r.Status != 400 || !strings.Contains(body, `id="survey-error"`) || !strings.Contains(body, "Ease must be a whole number from 1 to 5, not 9.") {
			t.Fatalf("a bad ease: %d\n%s", r.Status, firstLine(body, "survey-error"))
		}
		for _, v := range []string{"1", "5"} {
			if tag := inputTag(body, "ease", v); !strings.Contains(tag, `aria-invalid="true" aria-describedby="survey-error"`) {
				t.Errorf("the ease radio %s is not marked invalid: %s", v, tag)
			}
		}
		if tag := inputTag(body, "satisfaction", "4"); strings.Contains(tag, "aria-invalid") || !strings.Contains(tag, " checked") {
			t.Errorf("the satisfaction is not kept, or marked invalid: %s", tag)
		}
		if !strings.Contains(body, ">=cmd looks fine</textarea>") {
			t.Error("the comment typed is not kept")
		}
		form.Set("ease", "5")
		r = e.postForm(ann, "/survey", form)
		if r.Status != 303 || r.Header.Get("Location") != "/survey/thanks?next=%2Faccount" {
			t.Fatalf("a good answer: %d to %q", r.Status, r.Header.Get("Location"))
		}
		if _, html := e.htmlPage(ann, "/survey/thanks?next=%2Faccount"); !strings.Contains(html, "Thank you for your answers.") || !strings.Contains(html, `href="/account">Continue`) {
			t.Error("the thanks page")
		}
		r = e.postForm(ann, "/survey", form)
		if r.Status != 409 || !strings.Contains(string(r.Body), "You have already answered the survey today") {
			t.Errorf("a second answer the same day: %d", r.Status)
		}

		// A user: no menu entry, and 403 for the page and the CSV.
		if _, html := e.htmlPage(ann, "/"); strings.Contains(html, "/survey/results") {
			t.Error("a user's menu offers Survey Results")
		}
		for _, path := range []string{"/survey/results", "/survey/results.csv"} {
			if status, html := e.htmlPage(ann, path); status != 403 || !strings.Contains(html, "Only the operators of this Portal see the survey") {
				t.Errorf("%s for a user: %d", path, status)
			}
		}

		ops := e.relogin("ops@example.com")
		if _, html := e.htmlPage(ops, "/"); !strings.Contains(html, `<a href="/survey/results">Survey Results</a>`) {
			t.Error("an operator's menu lacks Survey Results")
		}
		status, html = e.htmlPage(ops, "/survey/results")
		if status != 200 {
			t.Fatalf("results for an operator: %d", status)
		}
		for _, want := range []string{
			`<strong>1</strong> response.`,
			`<svg class="chart" id="chart-satisfaction"`, `role="img" aria-labelledby="chart-satisfaction-title chart-satisfaction-desc"`,
			`<title id="chart-satisfaction-title">Satisfaction</title>`,
			`<desc id="chart-satisfaction-desc">1 · Very Dissatisfied: 0 (0%); 2 · Dissatisfied: 0 (0%); 3 · Neutral: 0 (0%); 4 · Satisfied: 1 (100%); 5 · Very Satisfied: 0 (0%).</desc>`,
			`data-label="4 · Satisfied" data-count="1"`, `data-label="5 · Very Easy" data-count="1"`, `data-label="Work With the Device Inventory" data-count="1"`,
			`Average 4.00 of 5, from 1 answer.`, `<td data-label="Satisfaction">4.00</td>`,
			`<p class="survey-comment-text">=cmd looks fine</p>`,
		} {
			if !strings.Contains(html, want) {
				t.Errorf("the results page lacks %q", want)
			}
		}
		if strings.Contains(html, "ann@example.com") {
			t.Error("the results page names who answered")
		}
		res, err := ops.Get(e.st.URL + "/survey/results.csv")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(res.Body).ReadAll()
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("CSV: %d %v", res.StatusCode, err)
		}
		if len(rows) != 2 || strings.Join(rows[0], ",") != "date,satisfaction,ease,purpose,comment" ||
			strings.Join(rows[1][1:], ",") != "4,5,inventory,'=cmd looks fine" {
			t.Errorf("CSV rows = %q", rows)
		}

		// A bad period: 400, the field marked, no results.
		status, html = e.htmlPage(ops, "/survey/results?from=2026-02-30")
		if status != 400 || !strings.Contains(html, "From must be a date as YYYY-MM-DD") || !strings.Contains(html, `name="from" value="2026-02-30" aria-invalid="true" aria-describedby="results-error"`) {
			t.Errorf("a bad period: %d\n%s", status, firstLine(html, `name="from"`))
		}
		if status, _ := e.htmlPage(ops, "/survey/results.csv?to=soon"); status != 400 {
			t.Errorf("CSV of a bad period: %d", status)
		}
	})
}

// TestSurveyLinkOnMyAccount: My Account ends with a link to the survey for
// a session that may answer it: from the first day (the prompt waits 7),
// and after "Don't ask again", which stops only the prompt; answering from
// it works then, and once answered today the link is gone (another answer
// is refused). A session that may only set a password (a recovery link)
// sees My Account without the link, and may not open the survey.
func TestSurveyLinkOnMyAccount(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newSurveyAPIEnv(t, d)
		const link = `id="survey-link"`
		ann := e.relogin("ann@example.com")
		status, html := e.htmlPage(ann, "/account")
		if status != 200 || !strings.Contains(html, link) || !strings.Contains(html, `href="/survey?next=/account"`) ||
			!strings.Contains(html, "Tell us how Portal works for you (two-minute survey)") {
			t.Fatalf("My Account on the first day (%d) has no survey link", status)
		}

		// Don't ask again: the prompt stops, the link stays.
		e.st.Clock.Advance(app.SurveyAfter)
		ann = e.relogin("ann@example.com")
		if r := e.postForm(ann, "/survey/prompt", url.Values{"action": {"never"}, "next": {"/account"}}); r.Status != http.StatusSeeOther {
			t.Fatalf("Don't ask again: %d %s", r.Status, r.Body)
		}
		ann = e.relogin("ann@example.com")
		_, html = e.htmlPage(ann, "/account")
		if strings.Contains(html, `id="survey-prompt"`) || !strings.Contains(html, link) {
			t.Fatalf("after Don't ask again: prompt %v, link %v; want the link only", strings.Contains(html, `id="survey-prompt"`), strings.Contains(html, link))
		}

		// Answered from the link's page: thanks, back to My Account, which
		// no longer offers it today; tomorrow again.
		if status, html := e.htmlPage(ann, "/survey?next=/account"); status != 200 || !strings.Contains(html, `value="/account"`) {
			t.Fatalf("the survey from the link: %d", status)
		}
		r := e.postForm(ann, "/survey", url.Values{"satisfaction": {"4"}, "ease": {"5"}, "purpose": {"account"}, "next": {"/account"}})
		if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != "/survey/thanks?next="+url.QueryEscape("/account") {
			t.Fatalf("an answer after Don't ask again: %d, Location %q: %s", r.Status, loc, r.Body)
		}
		if _, html = e.htmlPage(ann, "/account"); strings.Contains(html, link) {
			t.Error("My Account offers the survey again on the day it was answered")
		}
		e.st.Clock.Advance(24 * time.Hour)
		ann = e.relogin("ann@example.com")
		if _, html = e.htmlPage(ann, "/account"); !strings.Contains(html, link) {
			t.Error("My Account does not offer the survey the day after an answer")
		}

		// A recovery session: My Account without the link; no survey.
		e.want(e.do(e.st.Client(), "POST", "/api/v1/recover", map[string]any{"email": "ann@example.com"}), 200, "recover")
		recovery := e.st.Client()
		e.want(e.do(recovery, "POST", "/api/v1/recover/verify/"+e.recoverToken("ann@example.com", 1), nil), 200, "recovery session")
		status, html = e.htmlPage(recovery, "/account")
		if status != 200 || strings.Contains(html, link) {
			t.Errorf("My Account of a recovery session (%d): the survey link shows: %v", status, strings.Contains(html, link))
		}
		if _, html := e.htmlPage(recovery, "/survey"); strings.Contains(html, `id="survey-form"`) {
			t.Error("a recovery session opens the survey")
		}
	})
}
