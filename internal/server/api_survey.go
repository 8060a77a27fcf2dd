package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"portal"
	"portal/internal/app"
)

// The two-minute survey (ours; app/survey.go): GET and POST
// /api/v1/self/survey, GET /api/v1/survey/results (operators only).

// surveyStatusJSON is where the caller stands with the survey; times are
// epoch seconds.
type surveyStatusJSON struct {
	Due           bool   `json:"due"`
	EligibleFrom  int64  `json:"eligible_from"`
	SnoozedUntil  *int64 `json:"snoozed_until,omitempty"`
	DontAskAgain  bool   `json:"dont_ask_again"`
	AnsweredAt    *int64 `json:"answered_at,omitempty"`
	AnsweredToday bool   `json:"answered_today"`
}

func toSurveyStatusJSON(st *app.SurveyStatus) surveyStatusJSON {
	out := surveyStatusJSON{Due: st.Due, EligibleFrom: st.EligibleFrom.Unix(), DontAskAgain: !st.Never.IsZero(), AnsweredToday: st.AnsweredToday}
	if !st.SnoozedUntil.IsZero() {
		t := st.SnoozedUntil.Unix()
		out.SnoozedUntil = &t
	}
	if !st.Answered.IsZero() {
		t := st.Answered.Unix()
		out.AnsweredAt = &t
	}
	return out
}

func (s *server) apiSurveyStatus(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	st, err := s.svc.SurveyStatus(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, toSurveyStatusJSON(st))
}

// ratingText is a rating as sent, for the service to check: "" when left
// out or null, else the JSON text (4, 4.5, "4"), so that only a whole
// number passes.
func ratingText(raw json.RawMessage) string {
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// apiSurveyAnswer is POST /api/v1/self/survey: an answer
// ({"satisfaction", "ease", "purpose", "comment"}) or an action on the
// prompt ({"action": "snooze"} for "Not now", "never" for "Don't ask
// again").
func (s *server) apiSurveyAnswer(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in struct {
		Action       string          `json:"action"`
		Satisfaction json.RawMessage `json:"satisfaction"`
		Ease         json.RawMessage `json:"ease"`
		Purpose      string          `json:"purpose"`
		Comment      string          `json:"comment"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var st *app.SurveyStatus
	var err error
	answer := ratingText(in.Satisfaction) != "" || ratingText(in.Ease) != "" || in.Purpose != "" || in.Comment != ""
	switch {
	case in.Action != "" && answer:
		return portal.Errorf(portal.EINVALID, `send either an answer (satisfaction, ease, purpose, comment) or an action, not both`)
	case in.Action == "snooze":
		st, err = s.svc.SnoozeSurvey(r.Context(), a)
	case in.Action == "never":
		st, err = s.svc.StopSurvey(r.Context(), a)
	case in.Action != "":
		return portal.Errorf(portal.EINVALID, `action must be "snooze" (not now) or "never" (don't ask again); to answer, leave it out`)
	default:
		st, err = s.svc.AnswerSurvey(r.Context(), a, app.SurveyAnswerInput{Satisfaction: ratingText(in.Satisfaction), Ease: ratingText(in.Ease),
			Purpose: in.Purpose, Comment: in.Comment})
	}
	if err != nil {
		return err
	}
	return ok(w, toSurveyStatusJSON(st))
}

// surveyRatingJSON is the spread of one rating: counts by value ("1" to
// "5") and the average.
type surveyRatingJSON struct {
	Counts  map[string]int `json:"counts"`
	Average float64        `json:"average"`
}

func toSurveyRatingJSON(r app.SurveyRating) surveyRatingJSON {
	out := surveyRatingJSON{Counts: map[string]int{}, Average: r.Average}
	for i, n := range r.Counts {
		out.Counts[string(rune('1'+i))] = n
	}
	return out
}

func (s *server) apiSurveyResults(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	q := r.URL.Query()
	res, err := s.svc.SurveyResults(r.Context(), a, app.SurveyQuery{From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		return err
	}
	type purposeJSON struct {
		Purpose string `json:"purpose"`
		Label   string `json:"label"`
		Count   int    `json:"count"`
	}
	type weekJSON struct {
		WeekStart           string  `json:"week_start"`
		Count               int     `json:"count"`
		SatisfactionAverage float64 `json:"satisfaction_average"`
		EaseAverage         float64 `json:"ease_average"`
	}
	type commentJSON struct {
		Date         string `json:"date"`
		Satisfaction int    `json:"satisfaction"`
		Ease         int    `json:"ease"`
		Purpose      string `json:"purpose"`
		Comment      string `json:"comment"`
	}
	out := struct {
		From         string           `json:"from,omitempty"`
		To           string           `json:"to,omitempty"`
		Count        int              `json:"count"`
		Satisfaction surveyRatingJSON `json:"satisfaction"`
		Ease         surveyRatingJSON `json:"ease"`
		Purposes     []purposeJSON    `json:"purposes"`
		Weeks        []weekJSON       `json:"weeks"`
		Comments     []commentJSON    `json:"comments"`
		CommentCount int              `json:"comment_count"`
	}{From: res.Period.From, To: res.Period.To, Count: res.Count, Satisfaction: toSurveyRatingJSON(res.Satisfaction), Ease: toSurveyRatingJSON(res.Ease),
		Purposes: []purposeJSON{}, Weeks: []weekJSON{}, Comments: []commentJSON{}, CommentCount: res.CommentCount}
	for _, p := range res.Purposes {
		out.Purposes = append(out.Purposes, purposeJSON{Purpose: p.Key, Label: p.Label, Count: p.Count})
	}
	for _, wk := range res.Weeks {
		out.Weeks = append(out.Weeks, weekJSON{WeekStart: wk.Start.Format("2006-01-02"), Count: wk.Count, SatisfactionAverage: wk.SatisfactionAverage, EaseAverage: wk.EaseAverage})
	}
	for _, c := range res.Comments {
		out.Comments = append(out.Comments, commentJSON{Date: c.Date, Satisfaction: c.Satisfaction, Ease: c.Ease, Purpose: c.Purpose, Comment: c.Comment})
	}
	return ok(w, out)
}
