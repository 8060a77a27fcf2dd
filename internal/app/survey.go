package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portal"
	"portal/internal/store"
)

// The two-minute survey (issue 13, the seed's banner). A user who has had
// an account for SurveyAfter is asked, in a small prompt on the GUI's
// ordinary pages, whether they have time for it: Yes opens the survey,
// "Not now" keeps the prompt away for SurveySnooze, "Don't ask again" for
// good, and an answer stops it too. The prompt shows at most once per
// session (SurveyPrompt). The survey asks how satisfied the user is (1–5),
// what they came to do (SurveyPurposes), how easy that was (1–5) and,
// optionally, a comment. The deployment's operators (operator.go) read the
// results, which never say who answered.
//
// Why the account's age and not its fifth login: the age needs nothing
// new (users.created_at), while counting logins would add a write to every
// login for the survey's sake.

const (
	// SurveyAfter is how long after sign-up the prompt starts to show.
	SurveyAfter = 7 * 24 * time.Hour
	// SurveySnooze is how long "Not now" keeps the prompt away.
	SurveySnooze = 30 * 24 * time.Hour
	// MaxSurveyComment is the longest comment, in characters.
	MaxSurveyComment = 1000
	// SurveyComments is how many of the newest comments the results show
	// (the CSV download has them all).
	SurveyComments = 200
)

// SurveyPurpose is one answer to "What did you come to do?".
type SurveyPurpose struct {
	Key   string // in the API and the CSV
	Label string // in the GUI
}

// SurveyPurposes is the list the survey offers, in its order.
var SurveyPurposes = []SurveyPurpose{
	{"account", "Manage My Account"},
	{"organization", "Manage Organizations and Sites"},
	{"administrators", "Invite or Manage Administrators"},
	{"inventory", "Work With the Device Inventory"},
	{"audit_logs", "Read Audit Logs"},
	{"notifications", "Set Up Email Notifications"},
	{"api", "Use the API or API Tokens"},
	{"other", "Something Else"},
}

// SurveyPurposeLabel is the label of a purpose's key (the key itself if it
// is not in the list).
func SurveyPurposeLabel(key string) string {
	for _, p := range SurveyPurposes {
		if p.Key == key {
			return p.Label
		}
	}
	return key
}

// SurveyStatus is where the user stands with the survey.
type SurveyStatus struct {
	// Due: the prompt would be shown (in a session that has not shown it
	// yet).
	Due bool
	// EligibleFrom is when the account is old enough to be asked.
	EligibleFrom time.Time
	// SnoozedUntil is the end of a "Not now" still running (zero: none).
	SnoozedUntil time.Time
	// Never is when the user said "Don't ask again" (zero: not said).
	Never time.Time
	// Answered is the user's last answer (zero: none); AnsweredToday
	// says whether it was today (UTC), when another is refused.
	Answered      time.Time
	AnsweredToday bool
}

// surveyDay is the day of t for "one answer per day": whole days since the
// Unix epoch, UTC.
func surveyDay(t time.Time) int64 { return t.Unix() / 86400 }

// surveyStatus says where the user stands, at now.
func surveyStatus(u *portal.User, st *store.SurveyState, now time.Time) *SurveyStatus {
	out := &SurveyStatus{EligibleFrom: u.CreatedTime.Add(SurveyAfter), Never: st.Never, Answered: st.Answered}
	if now.Before(st.SnoozedUntil) {
		out.SnoozedUntil = st.SnoozedUntil
	}
	out.AnsweredToday = !st.Answered.IsZero() && surveyDay(st.Answered) == surveyDay(now)
	out.Due = !now.Before(out.EligibleFrom) && out.SnoozedUntil.IsZero() && st.Never.IsZero() && st.Answered.IsZero()
	return out
}

// SurveyStatus says where the caller stands with the survey (GET
// /api/v1/self/survey).
func (s *Service) SurveyStatus(ctx context.Context, a *Actor) (_ *SurveyStatus, err error) {
	defer wrap(&err, "SurveyStatus")
	st, err := s.db.GetSurveyState(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	return surveyStatus(a.User, st, s.clock()), nil
}

// SurveyPrompt reports whether a GUI page of the actor's session shows the
// survey prompt, and if so records that this session showed it: the
// prompt is due (SurveyStatus) and this session has not shown it yet.
// Never for an API token, nor for a session that owes its second factor or
// may only change its password or set up two-factor authentication.
func (s *Service) SurveyPrompt(ctx context.Context, a *Actor) (_ bool, err error) {
	defer wrap(&err, "SurveyPrompt")
	if !surveySession(a) {
		return false, nil
	}
	now := s.clock()
	st, err := s.db.GetSurveyState(ctx, a.User.ID)
	if err != nil {
		return false, err
	}
	if !surveyStatus(a.User, st, now).Due || st.PromptedSession == a.Session.ID {
		return false, nil
	}
	var show bool
	err = s.write(ctx, func(tx *store.Tx, _ *writer) error {
		show, err = tx.MarkSurveyPrompted(ctx, a.User.ID, a.Session.ID, now)
		return err
	})
	return show, err
}

// surveySession reports whether the actor's session may be asked and may
// open the survey in the GUI: a session (not an API token) that neither
// owes its second factor nor may only change its password or set up
// two-factor authentication.
func surveySession(a *Actor) bool {
	return a.Session != nil && !a.TwoFactor.Pending && !a.TwoFactor.EnrolDue && a.Restriction() == nil
}

// SurveyLink reports whether My Account offers the actor the survey's
// link: to the sessions the prompt may be shown to (surveySession),
// whatever the account's age and after "Not now" or "Don't ask again"
// too (the link is the user's choice, the prompt is ours), unless the
// user answered today, when another answer is refused.
func (s *Service) SurveyLink(ctx context.Context, a *Actor) (_ bool, err error) {
	defer wrap(&err, "SurveyLink")
	if !surveySession(a) {
		return false, nil
	}
	st, err := s.SurveyStatus(ctx, a)
	if err != nil {
		return false, err
	}
	return !st.AnsweredToday, nil
}

// SnoozeSurvey is "Not now": no prompt for SurveySnooze.
func (s *Service) SnoozeSurvey(ctx context.Context, a *Actor) (_ *SurveyStatus, err error) {
	defer wrap(&err, "SnoozeSurvey")
	now := s.clock()
	if err := s.write(ctx, func(tx *store.Tx, _ *writer) error {
		return tx.SnoozeSurvey(ctx, a.User.ID, now.Add(SurveySnooze), now)
	}); err != nil {
		return nil, err
	}
	return s.SurveyStatus(ctx, a)
}

// StopSurvey is "Don't ask again": no prompt any more. The survey itself
// stays open to the user.
func (s *Service) StopSurvey(ctx context.Context, a *Actor) (_ *SurveyStatus, err error) {
	defer wrap(&err, "StopSurvey")
	now := s.clock()
	if err := s.write(ctx, func(tx *store.Tx, _ *writer) error { return tx.StopSurvey(ctx, a.User.ID, now) }); err != nil {
		return nil, err
	}
	return s.SurveyStatus(ctx, a)
}

// SurveyAnswerInput is an answer as sent: the ratings as typed ("1" to
// "5"; "" when missing), a purpose's key and the comment.
type SurveyAnswerInput struct {
	Satisfaction string
	Ease         string
	Purpose      string
	Comment      string
}

// surveyRating reads a rating of field: a whole number from 1 to 5.
func surveyRating(field, what, v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, invalidField(field, "%s is required: choose %s from 1 to 5", field, what)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		return 0, invalidField(field, "%s must be a whole number from 1 to 5, not %s", field, shorten(v))
	}
	return n, nil
}

// shorten cuts what a client sent to 20 characters, for a message.
func shorten(v string) string {
	if r := []rune(v); len(r) > 20 {
		return string(r[:20]) + "…"
	}
	return v
}

// surveyPurposeKeys lists the purposes' keys, for messages.
func surveyPurposeKeys() string {
	keys := make([]string, len(SurveyPurposes))
	for i, p := range SurveyPurposes {
		keys[i] = p.Key
	}
	return strings.Join(keys, ", ")
}

// cleanSurveyComment trims a comment and checks it: at most
// MaxSurveyComment characters, lines and tabs allowed, no other control
// characters or text-direction controls.
func cleanSurveyComment(c string) (string, error) {
	c = strings.TrimSpace(strings.ReplaceAll(c, "\r\n", "\n"))
	if !utf8.ValidString(c) {
		return "", invalidField("comment", "comment is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(c); n > MaxSurveyComment {
		return "", invalidField("comment", "comment must be at most %d characters (it has %d)", MaxSurveyComment, n)
	}
	for _, r := range c {
		switch {
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			return "", invalidField("comment", "comment must not contain control characters")
		case isBidiControl(r):
			return "", invalidField("comment", "comment must not contain invisible text-direction characters (%U)", r)
		}
	}
	return c, nil
}

// AnswerSurvey stores the caller's answer; the prompt stops. One answer
// per user and day (UTC): a second is refused (409).
func (s *Service) AnswerSurvey(ctx context.Context, a *Actor, in SurveyAnswerInput) (_ *SurveyStatus, err error) {
	defer wrap(&err, "AnswerSurvey")
	ans := &store.SurveyAnswer{ID: newID(), UserID: a.User.ID}
	if ans.Satisfaction, err = surveyRating("satisfaction", "how satisfied you are", in.Satisfaction); err != nil {
		return nil, err
	}
	purpose := strings.TrimSpace(in.Purpose)
	if purpose == "" {
		return nil, invalidField("purpose", "purpose is required: choose what you came to do (one of %s)", surveyPurposeKeys())
	}
	if SurveyPurposeLabel(purpose) == purpose {
		return nil, invalidField("purpose", "purpose %s is not in the list: use one of %s", strconv.Quote(shorten(purpose)), surveyPurposeKeys())
	}
	ans.Purpose = purpose
	if ans.Ease, err = surveyRating("ease", "how easy it was to do what you came to do", in.Ease); err != nil {
		return nil, err
	}
	if ans.Comment, err = cleanSurveyComment(in.Comment); err != nil {
		return nil, err
	}
	ans.Created = s.clock()
	ans.Day = surveyDay(ans.Created)
	err = s.write(ctx, func(tx *store.Tx, _ *writer) error { return tx.AddSurveyAnswer(ctx, ans) })
	if errors.Is(err, store.ErrDuplicate) {
		return nil, portal.Errorf(portal.ECONFLICT, "you have already answered the survey today; thank you! You can answer again tomorrow (days change at 00:00 UTC)")
	}
	if err != nil {
		return nil, err
	}
	return s.SurveyStatus(ctx, a)
}

// SurveyQuery is the period of the results: dates as YYYY-MM-DD, UTC,
// both included; "" leaves that end open.
type SurveyQuery struct {
	From, To string
}

// SurveyPeriod is a SurveyQuery read: [Start, End) in time, zero for an
// open end; From and To are the dates as given (cleaned).
type SurveyPeriod struct {
	From, To   string
	Start, End time.Time
}

// parseSurveyDate reads one end of the period.
func parseSurveyDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, invalidField(field, "%s must be a date as YYYY-MM-DD (such as 2026-03-01), not %s", field, strconv.Quote(v))
	}
	return t, nil
}

// surveyPeriod checks a query.
func surveyPeriod(q SurveyQuery) (*SurveyPeriod, error) {
	p := &SurveyPeriod{From: strings.TrimSpace(q.From), To: strings.TrimSpace(q.To)}
	var err error
	if p.Start, err = parseSurveyDate("from", p.From); err != nil {
		return nil, err
	}
	if p.End, err = parseSurveyDate("to", p.To); err != nil {
		return nil, err
	}
	if !p.Start.IsZero() && !p.End.IsZero() && p.Start.After(p.End) {
		return nil, invalidField("from", "from (%s) must not be after to (%s)", p.From, p.To)
	}
	if !p.End.IsZero() {
		p.End = p.End.AddDate(0, 0, 1) // to is included
	}
	return p, nil
}

// SurveyRating is the spread of one rating.
type SurveyRating struct {
	Counts  [5]int  // answers that gave 1, 2, 3, 4, 5
	Average float64 // 0 without answers
}

// SurveyPurposeCount is how many answers gave one purpose.
type SurveyPurposeCount struct {
	SurveyPurpose
	Count int
}

// SurveyWeekResult is one week's answers (Monday to Sunday, UTC).
type SurveyWeekResult struct {
	Start               time.Time
	Count               int
	SatisfactionAverage float64
	EaseAverage         float64
}

// SurveyComment is a comment with its answer, dated by day only and
// never with who wrote it.
type SurveyComment struct {
	Date         string // YYYY-MM-DD, UTC
	Satisfaction int
	Ease         int
	Purpose      string
	Comment      string
}

// SurveyResults is what the operators see of a period.
type SurveyResults struct {
	Period       SurveyPeriod
	Count        int
	Satisfaction SurveyRating
	Ease         SurveyRating
	Purposes     []SurveyPurposeCount // in the list's order, every purpose
	Weeks        []SurveyWeekResult   // oldest first, weeks with answers
	Comments     []SurveyComment      // newest first, at most SurveyComments
	CommentCount int
}

// errNotOperator refuses the results to someone who is not an operator.
var errNotOperator = portal.Errorf(portal.EFORBIDDEN, "only the operators of this Portal see the survey's results")

// average is sum/n with two decimals, 0 for n = 0.
func average(sum, n int) float64 {
	if n == 0 {
		return 0
	}
	return math.Round(float64(sum)/float64(n)*100) / 100
}

// rating is the spread of counts (index 1–5).
func rating(counts [6]int) SurveyRating {
	var r SurveyRating
	sum, n := 0, 0
	for v := 1; v <= 5; v++ {
		r.Counts[v-1] = counts[v]
		sum += v * counts[v]
		n += counts[v]
	}
	r.Average = average(sum, n)
	return r
}

// SurveyResults adds up the answers of a period, for an operator (403
// otherwise).
func (s *Service) SurveyResults(ctx context.Context, a *Actor, q SurveyQuery) (_ *SurveyResults, err error) {
	defer wrap(&err, "SurveyResults")
	p, err := s.operatorPeriod(ctx, a, q)
	if err != nil {
		return nil, err
	}
	t, err := s.db.TallySurvey(ctx, p.Start, p.End, SurveyComments)
	if err != nil {
		return nil, err
	}
	r := &SurveyResults{Period: *p, Count: t.Count, Satisfaction: rating(t.Satisfaction), Ease: rating(t.Ease), CommentCount: t.CommentCount,
		Weeks: []SurveyWeekResult{}, Comments: []SurveyComment{}}
	for _, sp := range SurveyPurposes {
		r.Purposes = append(r.Purposes, SurveyPurposeCount{SurveyPurpose: sp, Count: t.Purposes[sp.Key]})
	}
	for _, w := range t.Weeks {
		r.Weeks = append(r.Weeks, SurveyWeekResult{Start: w.Start, Count: w.Count,
			SatisfactionAverage: average(w.SatisfactionSum, w.Count), EaseAverage: average(w.EaseSum, w.Count)})
	}
	for _, c := range t.Comments {
		r.Comments = append(r.Comments, surveyComment(c))
	}
	return r, nil
}

// surveyComment is an answer as the results show it.
func surveyComment(a *store.SurveyAnswer) SurveyComment {
	return SurveyComment{Date: a.Created.UTC().Format(time.DateOnly), Satisfaction: a.Satisfaction, Ease: a.Ease, Purpose: a.Purpose, Comment: a.Comment}
}

// SurveyAnswersEach calls fn with every answer of the period, oldest
// first, as the results show them (for the CSV download), for an operator
// (403 otherwise). It returns the period read.
func (s *Service) SurveyAnswersEach(ctx context.Context, a *Actor, q SurveyQuery, fn func(SurveyComment) error) (_ *SurveyPeriod, err error) {
	defer wrap(&err, "SurveyAnswersEach")
	p, err := s.operatorPeriod(ctx, a, q)
	if err != nil {
		return nil, err
	}
	return p, s.db.EachSurveyAnswer(ctx, p.Start, p.End, func(a *store.SurveyAnswer) error { return fn(surveyComment(a)) })
}

// operatorPeriod checks that the actor is an operator, then the query.
func (s *Service) operatorPeriod(ctx context.Context, a *Actor, q SurveyQuery) (*SurveyPeriod, error) {
	op, err := s.IsOperator(ctx, a)
	if err != nil {
		return nil, err
	}
	if !op {
		return nil, errNotOperator
	}
	return surveyPeriod(q)
}

// String is the period as a sentence's end: "from 2026-03-01 to
// 2026-03-31", "since …", "until …" or "".
func (p SurveyPeriod) String() string {
	switch {
	case p.From != "" && p.To != "":
		return fmt.Sprintf("from %s to %s", p.From, p.To)
	case p.From != "":
		return "since " + p.From
	case p.To != "":
		return "until " + p.To
	}
	return ""
}
