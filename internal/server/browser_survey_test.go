package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portal/internal/app"
	"portal/internal/browsertest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestBrowserSurvey is the survey in a real browser, at 1366×900 and
// 390×844: the prompt is not there on the sixth day and is on the seventh,
// in the page's flow and without taking the focus; Not now hides it, after
// a reload too, and 29 days later, and it is back after 30; Yes opens the
// survey, answered with the keyboard alone, and the thanks are in view;
// the operator's Survey Results show the answer in the charts and the CSV.
func TestBrowserSurvey(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStackWith(t, testenv.OpenDB(t, store.SQLite), testenv.StackOptions{Operators: []string{"ops@example.com"}})
	b := &accountBrowser{t: t, ctx: ctx, st: st}
	const pw = "survey horse 12"
	st.SignUp(t, "ann@example.com", pw, "")
	st.SignUp(t, "ops@example.com", pw, "")
	js := func(expr string) bool {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
	}
	const hasPrompt = `document.getElementById("survey-prompt")`
	home := func() {
		t.Helper()
		b.login("ann@example.com", pw, false)
		b.text("h1", "Welcome")
	}

	// The sixth day: no prompt.
	st.Clock.Advance(app.SurveyAfter - 24*time.Hour)
	home()
	if js(hasPrompt) {
		t.Fatal("the prompt shows on the sixth day")
	}

	// The seventh day (the session of the sixth has ended): the prompt,
	// in the flow under the top bar, the focus left where it was.
	st.Clock.Advance(24 * time.Hour)
	home()
	b.text("#survey-prompt", "Help us improve your experience. Let us know what you think. Do you have time for a two-minute survey?")
	if !js(`getComputedStyle(document.getElementById("survey-prompt")).position === "static"`) {
		t.Error("the prompt is not in the page's flow: it may cover the page")
	}
	if !js(`document.activeElement === document.body`) {
		t.Errorf("the prompt took the focus: %s", browsertest.Get(t, ctx, chromedp.Evaluate[string](`document.activeElement.outerHTML.slice(0, 120)`)))
	}
	b.shot("prompt")
	b.noSidewaysScroll("prompt")

	// Not now: the confirmation where the prompt was; away after a reload,
	// and 29 days later; back after 30.
	b.do(chromedp.Click(chromedp.CSS(`#survey-prompt button[value="snooze"]`)))
	b.text(".flash.ok", "Thank you. We will not ask again for 30 days.")
	if js(hasPrompt) {
		t.Error("the prompt is still there after Not now")
	}
	b.shot("not-now")
	b.noSidewaysScroll("not-now")
	b.do(chromedp.Reload())
	b.text("h1", "Welcome")
	if js(hasPrompt) {
		t.Error("the prompt is back after a reload")
	}
	st.Clock.Advance(29 * 24 * time.Hour)
	home()
	if js(hasPrompt) {
		t.Error("the prompt is back 29 days after Not now")
	}
	st.Clock.Advance(24 * time.Hour)
	home()
	b.text("#survey-prompt", "Do you have time for a two-minute survey?")

	// Yes, and the survey answered with the keyboard alone.
	b.do(chromedp.Focus(chromedp.CSS(`#survey-prompt a.button`)), chromedp.KeyEvent(kb.Enter))
	b.text("h1", "Two-Minute Survey")
	focused := func(name string) {
		t.Helper()
		for range 20 {
			if js(`document.activeElement.name === "` + name + `"`) {
				return
			}
			b.do(chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached the field %s", name)
	}
	checked := func(name string) string {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Evaluate[string](`(document.querySelector('input[name="`+name+`"]:checked') || {}).value || ""`))
	}
	focused("purpose")
	b.do(chromedp.KeyEvent(" "), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
	b.do(chromedp.KeyEvent(kb.Tab))
	focused("ease")
	b.do(chromedp.KeyEvent(" "), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	b.do(chromedp.KeyEvent(kb.Tab))
	focused("satisfaction")
	b.do(chromedp.KeyEvent(" "), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
	b.do(chromedp.KeyEvent(kb.Tab))
	focused("comment")
	b.do(chromedp.KeyEvent("Keyboard only, and it worked."))
	if p, e, s := checked("purpose"), checked("ease"), checked("satisfaction"); p != "inventory" || e != "5" || s != "4" {
		t.Fatalf("by keyboard: purpose %q, ease %q, satisfaction %q; want inventory, 5, 4", p, e, s)
	}
	if !js(`getComputedStyle(document.querySelector('label.scale-option:has(input[name="satisfaction"]:checked)')).backgroundColor !== "rgb(255, 255, 255)"`) {
		t.Error("the chosen rating does not look chosen")
	}
	b.shot("survey")
	b.noSidewaysScroll("survey")
	b.do(chromedp.KeyEvent(kb.Tab))
	if !js(`document.activeElement.matches('#survey-form button[type="submit"]')`) {
		t.Fatal("Tab after the comment does not reach Send Answers")
	}
	b.do(chromedp.KeyEvent(kb.Enter))
	b.text("h1", "Thank You")
	b.text("#survey-thanks", "Thank you for your answers.")
	inView := `(() => { const r = document.getElementById("survey-thanks").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`
	if !js(inView) {
		t.Error("the thanks are not in view")
	}
	b.shot("thanks")
	restore := browsertest.Phone(t, ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	if !js(inView) {
		t.Error("at 390 px the thanks are not in view")
	}
	b.shot("thanks-390px")
	restore()
	b.logout()

	// The operator: Survey Results from the user menu, the answer in the
	// charts, the week, the comment and the CSV.
	b.login("ops@example.com", pw, false)
	b.text("h1", "Welcome")
	b.do(chromedp.Click(chromedp.CSS(".usermenu summary")), chromedp.WaitVisible(chromedp.CSS(`.usermenu a[href="/survey/results"]`)),
		chromedp.Click(chromedp.CSS(`.usermenu a[href="/survey/results"]`)))
	b.text("h1", "Survey Results")
	b.text("#survey-count", "1 response.")
	for _, c := range []struct{ chart, label string }{
		{"chart-satisfaction", "4 · Satisfied"}, {"chart-ease", "5 · Very Easy"}, {"chart-purpose", "Work With the Device Inventory"},
	} {
		bar := `document.querySelector('#` + c.chart + ` g[data-label="` + c.label + `"]')`
		if !js(bar + ` && ` + bar + `.dataset.count === "1" && ` + bar + `.querySelector(".chart-bar").getBBox().width > 100 && ` + bar + `.querySelector(".chart-count").textContent.startsWith("1 (100%)")`) {
			t.Errorf("%s: no full bar with 1 (100%%) for %s", c.chart, c.label)
		}
	}
	if !js(`document.querySelector("#chart-satisfaction desc").textContent.includes("4 · Satisfied: 1 (100%)")`) {
		t.Error("the satisfaction chart's description lacks its numbers")
	}
	b.text("#survey-weeks", "4.00")
	b.text("#survey-comments", "Keyboard only, and it worked.")
	b.shot("results")
	b.noSidewaysScroll("results")
	csv := browsertest.Get(t, ctx, chromedp.Evaluate[string](`fetch(document.getElementById("survey-csv").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || lines[0] != "date,satisfaction,ease,purpose,comment" || !strings.HasSuffix(lines[1], ",4,5,inventory,\"Keyboard only, and it worked.\"") {
		t.Errorf("the CSV download = %q", csv)
	}
	if strings.Contains(csv, "ann@example.com") {
		t.Error("the CSV names who answered")
	}
}

// TestBrowserSurveyLink: after "Don't ask again", My Account still leads
// to the survey, by a discreet link at the end of its sections, at 1366×900
// and 390×844 (in the sections' column, no wider than it, no sideways
// scroll); the link opens the survey, whose answer is taken and whose
// Continue leads back to My Account, now without the link for the day.
func TestBrowserSurveyLink(t *testing.T) {
	ctx := browsertest.New(t)
	st := testenv.NewStackWith(t, testenv.OpenDB(t, store.SQLite), testenv.StackOptions{})
	b := &accountBrowser{t: t, ctx: ctx, st: st}
	const pw = "survey horse 12"
	st.SignUp(t, "bob@example.com", pw, "")
	js := func(expr string) bool {
		t.Helper()
		return browsertest.Get(t, ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
	}

	// The seventh day: the prompt, answered Don't ask again.
	st.Clock.Advance(app.SurveyAfter)
	b.login("bob@example.com", pw, false)
	b.text("#survey-prompt", "Do you have time for a two-minute survey?")
	b.do(chromedp.Click(chromedp.CSS(`#survey-prompt button[value="never"]`)))
	b.text(".flash.ok", "Thank you. We will not ask you again.")

	// My Account: the link, last in the sections' column, at both sizes.
	b.openMyAccount()
	if js(`document.getElementById("survey-prompt")`) {
		t.Error("the prompt shows on My Account after Don't ask again")
	}
	b.text("#survey-link", "Tell us how Portal works for you (two-minute survey)")
	const placed = `(() => { const l = document.getElementById("survey-link"), col = document.querySelector(".account-sections");
		const r = l.getBoundingClientRect(), c = col.getBoundingClientRect(), last = col.querySelector(":scope > section:last-of-type").getBoundingClientRect();
		return col.contains(l) && r.left >= c.left - 0.5 && r.right <= c.right + 0.5 && r.top >= last.bottom; })()`
	for _, sc := range accountScreens {
		restore := b.size(sc)
		b.do(chromedp.ScrollIntoView(chromedp.CSS("#survey-link")))
		if !js(placed) {
			t.Errorf("at %s the survey link is not under the last section, inside the sections' column", sc.name)
		}
		if sc.phone {
			if w := browsertest.Get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); w > 0 {
				t.Errorf("at %s My Account scrolls sideways by %.0f px", sc.name, w)
			}
		}
		browsertest.ScreenshotWindow(t, ctx, "account-survey-link-"+sc.name)
		restore()
	}

	// The link: the survey, answered; Continue back to My Account.
	b.do(chromedp.Click(chromedp.CSS("#survey-link")))
	b.text("h1", "Two-Minute Survey")
	b.do(chromedp.Click(chromedp.CSS(`label:has(input[name="purpose"][value="account"])`)),
		chromedp.Click(chromedp.CSS(`label:has(input[name="ease"][value="4"])`)),
		chromedp.Click(chromedp.CSS(`label:has(input[name="satisfaction"][value="5"])`)),
		chromedp.Click(chromedp.CSS(`#survey-form button[type="submit"]`)))
	b.text("h1", "Thank You")
	b.do(chromedp.Click(chromedp.CSS(`.survey-thanks a.button`)))
	b.text("h1", "My Account")
	if js(`document.getElementById("survey-link")`) {
		t.Error("My Account offers the survey again on the day it was answered")
	}
}
