package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"portal"
	"portal/internal/app"
)

// The two-minute survey in the GUI (app/survey.go): the prompt on ordinary
// pages, the survey page and its thanks, and the operators' results with
// their charts and CSV download.

func init() {
	funcs["surveyPurpose"] = app.SurveyPurposeLabel // survey_results.html
}

// surveyChrome is the survey's part of every page (view.Survey).
type surveyChrome struct {
	Prompt   bool   // the page shows the prompt
	Next     string // the page's address, where the prompt's answers come back to
	Operator bool   // the user menu shows Survey Results
}

// surveyPromptPages are the pages that may show the prompt: the ordinary
// pages of a signed-in user, never a login, second-factor, error, form or
// survey page.
var surveyPromptPages = map[string]bool{
	"home": true, "account": true, "org": true, "org_settings": true, "org_logs": true, "inventory": true,
	"admins": true, "admins_manage": true, "notifications": true,
}

// surveyChrome fills v.Survey for a page of a signed-in user: whether the
// user is an operator, and whether this page shows the prompt (a page of
// surveyPromptPages answered 200 to a GET, when the service says it is due
// in this session). A failure to tell leaves both out and is logged.
func (s *server) surveyChrome(r *http.Request, status int, page string, v *view) {
	if v.actor == nil || v.User == nil {
		return
	}
	ctx := r.Context()
	op, err := s.svc.IsOperator(ctx, v.actor)
	if err != nil {
		s.logError(r, err)
		return
	}
	v.Survey.Operator = op
	if status != http.StatusOK || r.Method != http.MethodGet || v.ErrorPage || !surveyPromptPages[page] {
		return
	}
	show, err := s.svc.SurveyPrompt(ctx, v.actor)
	if err != nil {
		s.logError(r, err)
		return
	}
	v.Survey.Prompt, v.Survey.Next = show, localPath(r.URL.RequestURI())
}

// webSurveyPrompt answers the prompt's "Not now" and "Don't ask again"
// (action snooze or never) and goes back to the page, which shows the
// confirmation where the prompt was.
func (s *server) webSurveyPrompt(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	var msg string
	var err error
	switch r.PostForm.Get("action") {
	case "snooze":
		_, err = s.svc.SnoozeSurvey(r.Context(), a)
		msg = fmt.Sprintf("Thank you. We will not ask again for %d days.", int(app.SurveySnooze.Hours()/24))
	case "never":
		_, err = s.svc.StopSurvey(r.Context(), a)
		msg = "Thank you. We will not ask you again."
	default:
		return portal.Errorf(portal.EINVALID, "the survey's prompt was answered with neither Not now nor Don't ask again")
	}
	if err != nil {
		return err
	}
	s.flash(w, msg)
	http.Redirect(w, r, localPath(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

// surveyChoice is one value of a rating's scale.
type surveyChoice struct {
	Value string
	Word  string
}

var (
	satisfactionScale = []surveyChoice{{"1", "Very Dissatisfied"}, {"2", "Dissatisfied"}, {"3", "Neutral"}, {"4", "Satisfied"}, {"5", "Very Satisfied"}}
	easeScale         = []surveyChoice{{"1", "Very Difficult"}, {"2", "Difficult"}, {"3", "Neutral"}, {"4", "Easy"}, {"5", "Very Easy"}}
)

// surveyView is the data of the survey page.
type surveyView struct {
	Next         string // where Cancel and the thanks lead back to
	Purposes     []app.SurveyPurpose
	Satisfaction []surveyChoice
	Ease         []surveyChoice
	MaxComment   int
	// Err is the error of a failed answer, ErrField the field it is about
	// (fieldAttrs $ "survey" field).
	Err, ErrField string
}

// sectionError tells fieldAttrs the error of the form "survey".
func (sv *surveyView) sectionError(section string) (msg, field string) {
	if section != "survey" {
		return "", ""
	}
	return sv.Err, sv.ErrField
}

func newSurveyView(next string) *surveyView {
	return &surveyView{Next: localPath(next), Purposes: app.SurveyPurposes, Satisfaction: satisfactionScale, Ease: easeScale, MaxComment: app.MaxSurveyComment}
}

func (s *server) webSurveyForm(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title, v.Data = "Two-Minute Survey", newSurveyView(r.URL.Query().Get("next"))
	s.render(w, r, http.StatusOK, "survey", v)
	return nil
}

func (s *server) webSurveyAnswer(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	f := r.PostForm
	next := localPath(f.Get("next"))
	_, err := s.svc.AnswerSurvey(r.Context(), a, app.SurveyAnswerInput{Satisfaction: f.Get("satisfaction"), Ease: f.Get("ease"),
		Purpose: f.Get("purpose"), Comment: f.Get("comment")})
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error {
			sv := newSurveyView(next)
			sv.Err, sv.ErrField, v.Error = v.Error, errorField("survey", err), ""
			v.Title, v.Data = "Two-Minute Survey", sv
			s.render(w, r, status, "survey", v)
			return nil
		})
	}
	http.Redirect(w, r, "/survey/thanks?next="+urlQuery(next), http.StatusSeeOther)
	return nil
}

func (s *server) webSurveyThanks(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	v.Title, v.Data = "Thank You", localPath(r.URL.Query().Get("next"))
	s.render(w, r, http.StatusOK, "survey_thanks", v)
	return nil
}

// surveyResultsView is the data of the results page.
type surveyResultsView struct {
	Res      *app.SurveyResults // nil when the period was refused
	From, To string             // the filter as typed
	CSV      string             // the download of this period
	Charts   []surveyChart
	// Err is a refused period's error, ErrField its field (from, to).
	Err, ErrField string
}

func (rv *surveyResultsView) sectionError(section string) (msg, field string) {
	if section != "results" {
		return "", ""
	}
	return rv.Err, rv.ErrField
}

// surveyChart is a bar chart of one rating's spread (or of the purposes),
// drawn as SVG by the template survey-chart (_survey_chart.html): role="img"
// named by its <title>, the numbers in its <desc> for screen readers and
// beside each bar for the eye. Sizes are in the SVG's own units; it
// scales to its box. Each bar has its label above it.
type surveyChart struct {
	ID      string
	Title   string
	Summary string // the count and average, as text
	Desc    string // every bar's label, count and share
	Bars    []chartBar
	Height  int
}

// chartBar is one bar of a chart, with where it is drawn.
type chartBar struct {
	Label  string
	Count  int
	Share  string // of all the chart's answers: "40%"
	LabelY int    // baseline of the label
	BarY   int    // top of the bar
	Width  int    // of the bar
	CountY int    // baseline of the count, after the bar
}

// Sizes of every bar chart (the template reads them as chartWidth etc.).
const (
	chartWidth    = 360
	chartRow      = 44
	chartBarMax   = 270
	chartBarThick = 14
)

func init() {
	funcs["chartSize"] = func() map[string]int {
		return map[string]int{"Width": chartWidth, "BarMax": chartBarMax, "Thick": chartBarThick, "CountX": chartBarMax + 8}
	}
}

// barChart lays out bars (Label and Count set) as a chart.
func barChart(id, title, summary string, bars []chartBar) surveyChart {
	total, most := 0, 0
	for _, b := range bars {
		total += b.Count
		most = max(most, b.Count)
	}
	desc := make([]string, len(bars))
	for i := range bars {
		b := &bars[i]
		b.Share = "0%"
		if total > 0 {
			b.Share = strconv.Itoa((b.Count*100+total/2)/total) + "%"
		}
		if most > 0 {
			b.Width = b.Count * chartBarMax / most
		}
		if b.Count > 0 {
			b.Width = max(b.Width, 2)
		}
		y := i * chartRow
		b.LabelY, b.BarY, b.CountY = y+15, y+21, y+33
		desc[i] = fmt.Sprintf("%s: %d (%s)", b.Label, b.Count, b.Share)
	}
	return surveyChart{ID: id, Title: title, Summary: summary, Desc: strings.Join(desc, "; ") + ".", Bars: bars, Height: len(bars) * chartRow}
}

// ratingChart is the chart of one rating's spread.
func ratingChart(id, title string, r app.SurveyRating, scale []surveyChoice, count int) surveyChart {
	bars := make([]chartBar, len(scale))
	for i, c := range scale {
		bars[i] = chartBar{Label: c.Value + " · " + c.Word, Count: r.Counts[i]}
	}
	summary := "No answers."
	if count > 0 {
		summary = fmt.Sprintf("Average %.2f of 5, from %s.", r.Average, answers(count))
	}
	return barChart(id, title, summary, bars)
}

// answers says "1 answer", "3 answers".
func answers(n int) string {
	if n == 1 {
		return "1 answer"
	}
	return strconv.Itoa(n) + " answers"
}

// surveyQuery reads the results' period from the address.
func surveyQuery(r *http.Request) app.SurveyQuery {
	q := r.URL.Query()
	return app.SurveyQuery{From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
}

func (s *server) webSurveyResults(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	q := surveyQuery(r)
	rv := &surveyResultsView{From: q.From, To: q.To, CSV: "/survey/results.csv"}
	if q.From != "" || q.To != "" {
		rv.CSV += "?" + (r.URL.Query()).Encode()
	}
	v.Title, v.Data = "Survey Results", rv
	res, err := s.svc.SurveyResults(r.Context(), a, q)
	status := http.StatusOK
	switch {
	case err != nil && portal.ErrorCode(err) == portal.EINVALID:
		rv.Err, rv.ErrField, status = sentence(portal.ErrorMessage(err)), errorField("results", err), http.StatusBadRequest
	case err != nil:
		return err // not an operator: the error page
	default:
		rv.Res = res
		rv.Charts = []surveyChart{
			ratingChart("chart-satisfaction", "Satisfaction", res.Satisfaction, satisfactionScale, res.Count),
			ratingChart("chart-ease", "Ease of What They Came to Do", res.Ease, easeScale, res.Count),
		}
		purposes := make([]chartBar, len(res.Purposes))
		for i, p := range res.Purposes {
			purposes[i] = chartBar{Label: p.Label, Count: p.Count}
		}
		rv.Charts = append(rv.Charts, barChart("chart-purpose", "What They Came to Do", answers(res.Count)+".", purposes))
	}
	s.render(w, r, status, "survey_results", v)
	return nil
}

// webSurveyResultsCSV downloads the answers of the period, one a line,
// without who gave them: date (UTC), the two ratings, the purpose and the
// comment.
func (s *server) webSurveyResultsCSV(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	q := surveyQuery(r)
	var cw *csv.Writer
	start := func() {
		name := "survey-results"
		if q.From != "" || q.To != "" {
			name += "-" + q.From + "-" + q.To
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		cw = csv.NewWriter(w)
		_ = cw.Write([]string{"date", "satisfaction", "ease", "purpose", "comment"})
	}
	_, err := s.svc.SurveyAnswersEach(r.Context(), a, q, func(c app.SurveyComment) error {
		if cw == nil {
			start()
		}
		return cw.Write([]string{c.Date, strconv.Itoa(c.Satisfaction), strconv.Itoa(c.Ease), csvCell(c.Purpose), csvCell(c.Comment)})
	})
	switch {
	case err != nil && cw == nil:
		return err // nothing sent yet: the error page (403, a bad period)
	case err != nil:
		s.logError(r, err) // the answer has started: the file ends short
	case cw == nil:
		start() // no answers: the header line alone
	}
	cw.Flush()
	return nil
}
