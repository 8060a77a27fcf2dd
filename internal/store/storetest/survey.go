package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"portal/internal/store"
)

// ---- survey.go ----

func testSurveyState(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "survey-state@example.com")
	st, err := db.GetSurveyState(ctx, u.ID)
	if err != nil || !st.SnoozedUntil.IsZero() || !st.Never.IsZero() || !st.Answered.IsZero() || st.PromptedSession != "" {
		t.Fatalf("state of a user who never met the survey = %+v, %v; want zero", st, err)
	}
	// Shown once per session: the second mark of the same session is refused.
	for i, c := range []struct {
		session string
		want    bool
	}{{"s1", true}, {"s1", false}, {"s2", true}, {"s2", false}} {
		var got bool
		write(t, db, func(tx *store.Tx) (err error) {
			got, err = tx.MarkSurveyPrompted(ctx, u.ID, c.session, t0)
			return err
		})
		if got != c.want {
			t.Errorf("mark %d (session %s) = %v, want %v", i, c.session, got, c.want)
		}
	}
	until := t0.Add(30 * 24 * time.Hour)
	write(t, db, func(tx *store.Tx) error { return tx.SnoozeSurvey(ctx, u.ID, until, t0) })
	write(t, db, func(tx *store.Tx) error { return tx.StopSurvey(ctx, u.ID, t0.Add(time.Hour)) })
	st, err = db.GetSurveyState(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "snoozed until", st.SnoozedUntil, until)
	wantTime(t, "never", st.Never, t0.Add(time.Hour))
	if st.PromptedSession != "s2" || !st.Answered.IsZero() {
		t.Errorf("state = %+v: setting one column changed another", st)
	}
}

func testSurveyAnswers(t *testing.T, db *store.DB) {
	ctx := context.Background()
	ann, bob := mkUser(t, db, "survey-ann@example.com"), mkUser(t, db, "survey-bob@example.com")
	day := func(tm time.Time) int64 { return tm.Unix() / 86400 }
	add := func(u string, at time.Time, sat, ease int, purpose, comment string) error {
		return db.Write(ctx, func(tx *store.Tx) error {
			return tx.AddSurveyAnswer(ctx, &store.SurveyAnswer{ID: newID(), UserID: u, Day: day(at), Created: at, Satisfaction: sat, Ease: ease, Purpose: purpose, Comment: comment})
		})
	}
	// t0 is a Saturday: its week starts on Monday 2025-02-24.
	for _, a := range []struct {
		u          string
		at         time.Time
		sat, ease  int
		purpose, c string
	}{
		{ann.ID, t0, 5, 4, "inventory", "Great"},
		{bob.ID, t0.Add(time.Hour), 3, 2, "inventory", ""},
		{ann.ID, t0.Add(48 * time.Hour), 1, 1, "account", "Slow"}, // Monday: the next week
	} {
		if err := add(a.u, a.at, a.sat, a.ease, a.purpose, a.c); err != nil {
			t.Fatalf("add %+v: %v", a, err)
		}
	}
	// One answer per user and day; the failed one changes nothing.
	if err := add(ann.ID, t0.Add(2*time.Hour), 2, 2, "other", "again"); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a second answer the same day: %v, want ErrDuplicate", err)
	}
	st, err := db.GetSurveyState(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, "ann answered", st.Answered, t0.Add(48*time.Hour))

	tally, err := db.TallySurvey(ctx, time.Time{}, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if tally.Count != 3 || tally.Satisfaction != [6]int{0, 1, 0, 1, 0, 1} || tally.Ease != [6]int{0, 1, 1, 0, 1, 0} {
		t.Errorf("tally = count %d, satisfaction %v, ease %v", tally.Count, tally.Satisfaction, tally.Ease)
	}
	if tally.Purposes["inventory"] != 2 || tally.Purposes["account"] != 1 || len(tally.Purposes) != 2 {
		t.Errorf("purposes = %v", tally.Purposes)
	}
	if len(tally.Weeks) != 2 {
		t.Fatalf("weeks = %+v, want 2", tally.Weeks)
	}
	wantTime(t, "first week", tally.Weeks[0].Start, time.Date(2025, 2, 24, 0, 0, 0, 0, time.UTC))
	wantTime(t, "second week", tally.Weeks[1].Start, time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
	if w := tally.Weeks[0]; w.Count != 2 || w.SatisfactionSum != 8 || w.EaseSum != 6 {
		t.Errorf("first week = %+v", w)
	}
	if tally.CommentCount != 2 || len(tally.Comments) != 2 || tally.Comments[0].Comment != "Slow" || tally.Comments[0].UserID != "" {
		t.Errorf("comments = %d %+v; want the 2, newest first, without users", tally.CommentCount, tally.Comments)
	}
	// A period: [from, to).
	tally, err = db.TallySurvey(ctx, t0.Add(time.Hour), t0.Add(48*time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	if tally.Count != 1 || tally.Satisfaction[3] != 1 || tally.CommentCount != 0 || len(tally.Comments) != 0 {
		t.Errorf("tally of [t0+1h, t0+48h) = %+v", tally)
	}
	var each []string
	if err := db.EachSurveyAnswer(ctx, t0, t0.Add(time.Hour+time.Millisecond), func(a *store.SurveyAnswer) error {
		if a.UserID != "" {
			t.Errorf("EachSurveyAnswer names the user of %s", a.ID)
		}
		each = append(each, a.Purpose)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(each) != 2 {
		t.Errorf("EachSurveyAnswer of the first hour: %v", each)
	}
	mine, err := db.UserSurveyAnswers(ctx, ann.ID)
	if err != nil || len(mine) != 2 || mine[0].Comment != "Great" || mine[0].UserID != ann.ID {
		t.Fatalf("ann's answers = %+v, %v", mine, err)
	}

	// Deleting the account keeps the ratings, without the user or the
	// comment; the survey state goes.
	write(t, db, func(tx *store.Tx) error { _, err := tx.DeleteUser(ctx, ann, t0, t0); return err })
	if mine, err := db.UserSurveyAnswers(ctx, ann.ID); err != nil || len(mine) != 0 {
		t.Errorf("a deleted user's answers = %+v, %v", mine, err)
	}
	tally, err = db.TallySurvey(ctx, time.Time{}, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if tally.Count != 3 || tally.CommentCount != 0 {
		t.Errorf("after the deletion: %d answers, %d comments; want 3 and 0", tally.Count, tally.CommentCount)
	}
	if st, err := db.GetSurveyState(ctx, ann.ID); err != nil || !st.Answered.IsZero() {
		t.Errorf("a deleted user's survey state = %+v, %v", st, err)
	}
}

func testOperators(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := mkUser(t, db, "operator@example.com")
	add := func() (added bool) {
		write(t, db, func(tx *store.Tx) (err error) { added, err = tx.AddOperator(ctx, u.ID, t0); return err })
		return added
	}
	remove := func() (removed bool) {
		write(t, db, func(tx *store.Tx) (err error) { removed, err = tx.RemoveOperator(ctx, u.ID); return err })
		return removed
	}
	if is, err := db.IsOperator(ctx, u.ID); err != nil || is {
		t.Fatalf("IsOperator before = %v, %v", is, err)
	}
	if !add() || add() {
		t.Error("AddOperator: want true, then false")
	}
	list, err := db.ListOperators(ctx)
	if err != nil || len(list) != 1 || list[0].Email != u.Email || !list[0].Since.Equal(t0) {
		t.Fatalf("ListOperators = %+v, %v", list, err)
	}
	if is, err := db.IsOperator(ctx, u.ID); err != nil || !is {
		t.Fatalf("IsOperator after AddOperator = %v, %v", is, err)
	}
	if !remove() || remove() {
		t.Error("RemoveOperator: want true, then false")
	}
	add()
	write(t, db, func(tx *store.Tx) error { _, err := tx.DeleteUser(ctx, u, t0, t0); return err })
	if list, err := db.ListOperators(ctx); err != nil || len(list) != 0 {
		t.Errorf("a deleted user is still an operator: %+v, %v", list, err)
	}
}
