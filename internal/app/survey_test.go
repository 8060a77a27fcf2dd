package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/store"
	"portal/internal/testenv"
)

const surveyPW = "survey horse 12"

// surveyWorld is a service whose clock starts at testStart, with users
// who signed up then, and a second service on the same database whose
// PORTAL_OPERATORS names ops@example.com.
type surveyWorld struct {
	t   *testing.T
	ts  *testService
	ops *app.Service // with Options.Operators
	ctx context.Context
}

func newSurveyWorld(t *testing.T, d store.Dialect) *surveyWorld {
	ts := newTestService(t, d, time.Time{}, nil)
	ts.addUsers(t, surveyPW, "ann@example.com", "bob@example.com", "ops@example.com", "cli@example.com")
	ops := app.New(app.Options{DB: ts.db, Hasher: ts.h, Now: ts.clock.Now, BaseURL: "http://portal.test", Operators: []string{" Ops@Example.com "}})
	return &surveyWorld{t: t, ts: ts, ops: ops, ctx: context.Background()}
}

// login opens a session of the address and returns its actor.
func (w *surveyWorld) login(email string) *app.Actor {
	w.t.Helper()
	res, err := w.ts.svc.Login(w.ctx, email, surveyPW, app.Client{IP: "192.0.2.7", UserAgent: "survey test"})
	if err != nil {
		w.t.Fatalf("login %s: %v", email, err)
	}
	a, err := w.ts.svc.Authenticate(w.ctx, res.Token, "192.0.2.7")
	if err != nil {
		w.t.Fatalf("authenticate %s: %v", email, err)
	}
	return a
}

// prompt asks whether a page of a's session shows the prompt.
func (w *surveyWorld) prompt(a *app.Actor) bool {
	w.t.Helper()
	show, err := w.ts.svc.SurveyPrompt(w.ctx, a)
	if err != nil {
		w.t.Fatal(err)
	}
	return show
}

func wantSurveyCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := portal.ErrorCode(err); got != code {
		t.Fatalf("%s: %v (code %q), want %q", what, err, got, code)
	}
}

// asError is errors.As, with e left non-nil when it fails.
func asError(err error, e **portal.Error) bool {
	if errors.As(err, e) {
		return true
	}
	*e = &portal.Error{}
	return false
}

// TestSurveyPrompt: the prompt is due from the seventh day after sign-up,
// shows once per session, "Not now" keeps it away 30 days (not 29), "Don't
// ask again" and an answer for good; an API token never gets it.
func TestSurveyPrompt(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := newSurveyWorld(t, d)
		clock := w.ts.clock

		clock.Advance(app.SurveyAfter - time.Minute)
		ann := w.login("ann@example.com")
		if w.prompt(ann) {
			t.Fatal("the prompt shows a minute before the seventh day")
		}
		st, err := w.ts.svc.SurveyStatus(w.ctx, ann)
		if err != nil || st.Due || !st.EligibleFrom.Equal(testStart.Add(app.SurveyAfter)) {
			t.Fatalf("status before the seventh day = %+v, %v", st, err)
		}
		clock.Advance(time.Minute)
		if st, _ := w.ts.svc.SurveyStatus(w.ctx, ann); !st.Due {
			t.Fatalf("not due on the seventh day: %+v", st)
		}
		if !w.prompt(ann) {
			t.Fatal("the prompt does not show on the seventh day")
		}
		if w.prompt(ann) {
			t.Error("the prompt shows twice in one session")
		}
		if again := w.login("ann@example.com"); !w.prompt(again) {
			t.Error("a new session does not show the prompt")
		}
		if w.prompt(&app.Actor{User: ann.User}) {
			t.Error("an API token's request gets the prompt")
		}
		for name, restricted := range map[string]*app.Actor{
			"a session that owes its second factor":    {User: ann.User, Session: &portal.Session{ID: "pending"}, TwoFactor: app.TwoFactorState{Pending: true}},
			"a session that must set up two factors":   {User: ann.User, Session: &portal.Session{ID: "enrol"}, TwoFactor: app.TwoFactorState{EnrolDue: true}},
			"a recovery session (password only)":       {User: ann.User, Session: &portal.Session{ID: "recovery", PasswordOnly: true}},
			"a session whose password must be changed": {User: ann.User, Session: &portal.Session{ID: "expired"}, PasswordExpired: true},
		} {
			if w.prompt(restricted) {
				t.Errorf("%s gets the prompt", name)
			}
		}

		// Not now: 29 days later still away, 30 days later back.
		st, err = w.ts.svc.SnoozeSurvey(w.ctx, ann)
		if err != nil || st.Due || !st.SnoozedUntil.Equal(clock.Now().Add(app.SurveySnooze)) {
			t.Fatalf("snooze = %+v, %v", st, err)
		}
		if w.prompt(w.login("ann@example.com")) {
			t.Error("the prompt shows right after Not now")
		}
		clock.Advance(29 * 24 * time.Hour)
		if w.prompt(w.login("ann@example.com")) {
			t.Error("the prompt shows 29 days after Not now")
		}
		clock.Advance(24 * time.Hour)
		if !w.prompt(w.login("ann@example.com")) {
			t.Error("the prompt does not show 30 days after Not now")
		}

		// Don't ask again: never, however long.
		st, err = w.ts.svc.StopSurvey(w.ctx, ann)
		if err != nil || st.Due || st.Never.IsZero() {
			t.Fatalf("stop = %+v, %v", st, err)
		}
		clock.Advance(400 * 24 * time.Hour)
		if w.prompt(w.login("ann@example.com")) {
			t.Error("the prompt shows after Don't ask again")
		}

		// An answer stops it too.
		bob := w.login("bob@example.com")
		if _, err := w.ts.svc.AnswerSurvey(w.ctx, bob, app.SurveyAnswerInput{Satisfaction: "4", Ease: "5", Purpose: "inventory"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(400 * 24 * time.Hour)
		if w.prompt(w.login("bob@example.com")) {
			t.Error("the prompt shows after an answer")
		}
	})
}

// TestSurveyAnswerBadInput: each bad answer is refused with a 400 naming
// its field, a second answer the same day with a 409; none is stored.
func TestSurveyAnswerBadInput(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := newSurveyWorld(t, d)
		ann := w.login("ann@example.com")
		good := app.SurveyAnswerInput{Satisfaction: "4", Ease: "3", Purpose: "account", Comment: "Fine"}
		for _, c := range []struct {
			name  string
			edit  func(in *app.SurveyAnswerInput)
			field string
			msg   string
		}{
			{"satisfaction missing", func(in *app.SurveyAnswerInput) { in.Satisfaction = "" }, "satisfaction", "satisfaction is required"},
			{"satisfaction 0", func(in *app.SurveyAnswerInput) { in.Satisfaction = "0" }, "satisfaction", "from 1 to 5"},
			{"satisfaction 6", func(in *app.SurveyAnswerInput) { in.Satisfaction = "6" }, "satisfaction", "from 1 to 5"},
			{"satisfaction 4.5", func(in *app.SurveyAnswerInput) { in.Satisfaction = "4.5" }, "satisfaction", "whole number"},
			{"ease missing", func(in *app.SurveyAnswerInput) { in.Ease = "" }, "ease", "ease is required"},
			{"ease -1", func(in *app.SurveyAnswerInput) { in.Ease = "-1" }, "ease", "from 1 to 5"},
			{"purpose missing", func(in *app.SurveyAnswerInput) { in.Purpose = "" }, "purpose", "purpose is required"},
			{"purpose unknown", func(in *app.SurveyAnswerInput) { in.Purpose = "gardening" }, "purpose", `"gardening" is not in the list`},
			{"comment too long", func(in *app.SurveyAnswerInput) { in.Comment = strings.Repeat("é", app.MaxSurveyComment+1) }, "comment", "at most 1000 characters (it has 1001)"},
			{"comment control", func(in *app.SurveyAnswerInput) { in.Comment = "a\x00b" }, "comment", "control characters"},
			{"comment bidi", func(in *app.SurveyAnswerInput) { in.Comment = "a\u202eb" }, "comment", "text-direction"},
		} {
			in := good
			c.edit(&in)
			_, err := w.ts.svc.AnswerSurvey(w.ctx, ann, in)
			wantSurveyCode(t, c.name, err, portal.EINVALID)
			var e *portal.Error
			if !asError(err, &e) || e.Fields["field"] != c.field || !strings.Contains(e.Message, c.msg) {
				t.Errorf("%s: %v (fields %v), want field %s and %q", c.name, err, e.Fields, c.field, c.msg)
			}
		}
		if st, _ := w.ts.svc.SurveyStatus(w.ctx, ann); !st.Answered.IsZero() {
			t.Fatal("a refused answer was stored")
		}
		// Exactly 1000 characters, over two lines, is fine.
		in := good
		in.Comment = strings.Repeat("é", 500) + "\r\n" + strings.Repeat("a", 499)
		if _, err := w.ts.svc.AnswerSurvey(w.ctx, ann, in); err != nil {
			t.Fatalf("a comment of 1000 characters: %v", err)
		}
		_, err := w.ts.svc.AnswerSurvey(w.ctx, ann, good)
		wantSurveyCode(t, "a second answer the same day", err, portal.ECONFLICT)
		w.ts.clock.Advance(24 * time.Hour)
		if st, err := w.ts.svc.AnswerSurvey(w.ctx, ann, good); err != nil || !st.AnsweredToday {
			t.Fatalf("an answer the next day: %+v, %v", st, err)
		}
	})
}

// TestSurveyAnswerOncePerDay: of answers sent at once by one user, exactly
// one is stored.
func TestSurveyAnswerOncePerDay(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := newSurveyWorld(t, d)
		ann := w.login("ann@example.com")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = w.ts.svc.AnswerSurvey(w.ctx, ann, app.SurveyAnswerInput{Satisfaction: "5", Ease: "5", Purpose: "other"})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch portal.ErrorCode(err) {
			case "":
				ok++
			case portal.ECONFLICT:
			default:
				t.Errorf("concurrent answer: %v", err)
			}
		}
		res, err := w.ops.SurveyResults(w.ctx, w.login("ops@example.com"), app.SurveyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if ok != 1 || res.Count != 1 {
			t.Errorf("%d answers accepted, %d stored; want 1 and 1", ok, res.Count)
		}
	})
}

// TestSurveyResults: only operators (by PORTAL_OPERATORS or `portal
// operator add`) read the results, which add up the answers of a period
// without saying who gave them; bad periods are refused.
func TestSurveyResults(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := newSurveyWorld(t, d)
		ann, bob := w.login("ann@example.com"), w.login("bob@example.com")
		answer := func(a *app.Actor, sat, ease, purpose, comment string) {
			t.Helper()
			if _, err := w.ts.svc.AnswerSurvey(w.ctx, a, app.SurveyAnswerInput{Satisfaction: sat, Ease: ease, Purpose: purpose, Comment: comment}); err != nil {
				t.Fatal(err)
			}
		}
		answer(ann, "5", "4", "inventory", "The inventory search is quick.")
		answer(bob, "2", "1", "inventory", "")
		w.ts.clock.Advance(7 * 24 * time.Hour)
		answer(ann, "4", "4", "account", "")

		// Not an operator: 403, on either service.
		for _, svc := range []*app.Service{w.ts.svc, w.ops} {
			_, err := svc.SurveyResults(w.ctx, ann, app.SurveyQuery{})
			wantSurveyCode(t, "results for a user", err, portal.EFORBIDDEN)
			_, err = svc.SurveyAnswersEach(w.ctx, ann, app.SurveyQuery{}, func(app.SurveyComment) error { return nil })
			wantSurveyCode(t, "answers for a user", err, portal.EFORBIDDEN)
		}
		// PORTAL_OPERATORS (any case and spaces) makes ops@ one, only where set.
		ops := w.login("ops@example.com")
		if _, err := w.ts.svc.SurveyResults(w.ctx, ops, app.SurveyQuery{}); portal.ErrorCode(err) != portal.EFORBIDDEN {
			t.Errorf("ops@ without PORTAL_OPERATORS: %v, want 403", err)
		}
		res, err := w.ops.SurveyResults(w.ctx, ops, app.SurveyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != 3 || res.Satisfaction.Counts != [5]int{0, 1, 0, 1, 1} || res.Satisfaction.Average != 3.67 || res.Ease.Average != 3 {
			t.Errorf("results = count %d, satisfaction %+v, ease %+v", res.Count, res.Satisfaction, res.Ease)
		}
		if len(res.Purposes) != len(app.SurveyPurposes) || res.Purposes[0].Key != "account" || res.Purposes[0].Count != 1 || res.Purposes[3].Key != "inventory" || res.Purposes[3].Count != 2 {
			t.Errorf("purposes = %+v", res.Purposes)
		}
		if len(res.Weeks) != 2 || res.Weeks[0].Count != 2 || res.Weeks[0].SatisfactionAverage != 3.5 || res.Weeks[1].EaseAverage != 4 {
			t.Errorf("weeks = %+v", res.Weeks)
		}
		if res.CommentCount != 1 || len(res.Comments) != 1 || res.Comments[0].Comment != "The inventory search is quick." || res.Comments[0].Date != testStart.Format(time.DateOnly) {
			t.Errorf("comments = %+v", res.Comments)
		}

		// `portal operator add` makes cli@ one on any service; remove undoes it.
		cli := w.login("cli@example.com")
		if _, added, err := w.ts.svc.AddOperator(w.ctx, "CLI@example.com"); err != nil || !added {
			t.Fatalf("AddOperator: %v, %v", added, err)
		}
		if _, added, _ := w.ts.svc.AddOperator(w.ctx, "cli@example.com"); added {
			t.Error("AddOperator twice: added again")
		}
		if _, err := w.ts.svc.SurveyResults(w.ctx, cli, app.SurveyQuery{}); err != nil {
			t.Errorf("results for an operator made by the command: %v", err)
		}
		list, err := w.ops.ListOperators(w.ctx)
		if err != nil || len(list) != 2 || list[0].Email != "cli@example.com" || !list[0].Added || list[1].Email != "ops@example.com" || !list[1].Setting || list[1].Added {
			t.Errorf("operators = %+v, %v", list, err)
		}
		if _, _, err := w.ts.svc.AddOperator(w.ctx, "nobody@example.com"); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("AddOperator of an unknown address: %v, want not found", err)
		}
		if _, removed, err := w.ts.svc.RemoveOperator(w.ctx, "cli@example.com"); err != nil || !removed {
			t.Fatalf("RemoveOperator: %v, %v", removed, err)
		}
		if _, err := w.ts.svc.SurveyResults(w.ctx, cli, app.SurveyQuery{}); portal.ErrorCode(err) != portal.EFORBIDDEN {
			t.Errorf("results after RemoveOperator: %v, want 403", err)
		}
		if _, removed, _ := w.ops.RemoveOperator(w.ctx, "ops@example.com"); removed {
			t.Error("RemoveOperator of a PORTAL_OPERATORS address says it removed it")
		}

		// A period: dates in UTC, both included.
		day := testStart.Format(time.DateOnly)
		res, err = w.ops.SurveyResults(w.ctx, ops, app.SurveyQuery{From: day, To: day})
		if err != nil || res.Count != 2 || res.Period.String() != "from "+day+" to "+day {
			t.Errorf("results of %s: %+v, %v", day, res, err)
		}
		var csv []string
		if _, err := w.ops.SurveyAnswersEach(w.ctx, ops, app.SurveyQuery{From: testStart.AddDate(0, 0, 1).Format(time.DateOnly)}, func(c app.SurveyComment) error {
			csv = append(csv, c.Purpose)
			return nil
		}); err != nil || len(csv) != 1 || csv[0] != "account" {
			t.Errorf("answers since the next day: %v, %v", csv, err)
		}
		for _, q := range []struct {
			q     app.SurveyQuery
			field string
		}{
			{app.SurveyQuery{From: "yesterday"}, "from"},
			{app.SurveyQuery{To: "2026-02-30"}, "to"},
			{app.SurveyQuery{From: "2026-3-1"}, "from"},
			{app.SurveyQuery{From: "2026-03-02", To: "2026-03-01"}, "from"},
		} {
			_, err := w.ops.SurveyResults(w.ctx, ops, q.q)
			wantSurveyCode(t, "period "+q.q.From+"–"+q.q.To, err, portal.EINVALID)
			var e *portal.Error
			if asError(err, &e); e.Fields["field"] != q.field {
				t.Errorf("period %+v: field %v, want %s", q.q, e.Fields["field"], q.field)
			}
		}
	})
}

// TestSurveyExportAndDeletion: the export holds the user's answers and
// choices; deleting the account leaves the ratings in the results without
// the user or the comment.
func TestSurveyExportAndDeletion(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		w := newSurveyWorld(t, d)
		ann := w.login("ann@example.com")
		if _, err := w.ts.svc.AnswerSurvey(w.ctx, ann, app.SurveyAnswerInput{Satisfaction: "3", Ease: "2", Purpose: "api", Comment: "Ann from Acme: tokens confuse me"}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ts.svc.StopSurvey(w.ctx, ann); err != nil {
			t.Fatal(err)
		}
		doc, err := w.ts.svc.ExportPersonalData(w.ctx, ann)
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Survey.Answers) != 1 || doc.Survey.Answers[0].Comment != "Ann from Acme: tokens confuse me" || doc.Survey.Answers[0].Purpose != "api" || doc.Survey.DontAskAgain == nil {
			t.Errorf("export's survey = %+v", doc.Survey)
		}
		if _, err := w.ts.svc.DeleteAccount(w.ctx, ann, app.Reauth{Password: surveyPW}); err != nil {
			t.Fatal(err)
		}
		res, err := w.ops.SurveyResults(w.ctx, w.login("ops@example.com"), app.SurveyQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != 1 || res.Satisfaction.Counts[2] != 1 || res.CommentCount != 0 || len(res.Comments) != 0 {
			t.Errorf("results after the deletion = count %d, comments %d %+v; want the rating without its comment", res.Count, res.CommentCount, res.Comments)
		}
	})
}
