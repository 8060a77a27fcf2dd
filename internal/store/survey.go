package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"time"
)

// The survey (internal/app/survey.go): each user's standing with its
// prompt (survey_state), the answers (survey_answers), and the operators
// who read the results (operators).

// SurveyState is where one user stands with the survey prompt; zero times
// are "never".
type SurveyState struct {
	UserID       string
	SnoozedUntil time.Time // "Not now": not before this
	Never        time.Time // when the user said "Don't ask again"
	Answered     time.Time // the user's last answer
	// PromptedSession is the id of the session the prompt was last shown
	// in.
	PromptedSession string
}

// SurveyAnswer is one answer to the survey. UserID is empty when read
// for the results (which never say who answered) and after the account
// was deleted.
type SurveyAnswer struct {
	ID           string
	UserID       string
	Day          int64 // whole days since the Unix epoch, UTC: one answer per user and day
	Created      time.Time
	Satisfaction int // 1–5
	Ease         int // 1–5
	Purpose      string
	Comment      string
}

// SurveyWeek is the answers of one week (Monday 00:00 UTC to the next).
type SurveyWeek struct {
	Start           time.Time
	Count           int
	SatisfactionSum int
	EaseSum         int
}

// SurveyTally is what the answers of a period add up to.
type SurveyTally struct {
	Count        int
	Satisfaction [6]int // answers per rating, at index 1–5
	Ease         [6]int
	Purposes     map[string]int
	Weeks        []SurveyWeek // oldest first, only weeks with answers
	// Comments are the newest answers with a comment, at most the number
	// asked for; CommentCount is how many there are in the period.
	Comments     []*SurveyAnswer
	CommentCount int
}

const (
	msPerWeek = 7 * 24 * 60 * 60 * 1000
	// mondayMS is 1970-01-05T00:00Z, the first Monday after the epoch:
	// weeks are counted from it.
	mondayMS = 4 * 24 * 60 * 60 * 1000
)

// surveyRange turns a period into epoch milliseconds: from included, to
// excluded; zero times leave that end open.
func surveyRange(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if !to.IsZero() {
		hi = to.UnixMilli()
	}
	return lo, hi
}

// GetSurveyState returns the user's standing with the survey prompt; a
// user who never met it has a state with zero times.
func (c conn) GetSurveyState(ctx context.Context, userID string) (_ *SurveyState, err error) {
	defer wrap(&err, "GetSurveyState(%s)", userID)
	st := &SurveyState{UserID: userID}
	var snoozed, never, answered int64
	err = c.queryRow(ctx, `SELECT snoozed_until, never_at, answered_at, prompted_session FROM survey_state WHERE user_id = ?`, userID).
		Scan(&snoozed, &never, &answered, &st.PromptedSession)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	st.SnoozedUntil, st.Never, st.Answered = fromMS(snoozed), fromMS(never), fromMS(answered)
	return st, nil
}

// setSurveyState sets one column of the user's survey_state row, making
// the row if needed. col is one of this file's constants, never input.
func (tx *Tx) setSurveyState(ctx context.Context, userID, col string, value any, now time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO survey_state (user_id, `+col+`, updated_at) VALUES (?,?,?)
		ON CONFLICT (user_id) DO UPDATE SET `+col+` = excluded.`+col+`, updated_at = excluded.updated_at`, userID, value, ms(now))
	return err
}

// SnoozeSurvey keeps the prompt from the user until until ("Not now").
func (tx *Tx) SnoozeSurvey(ctx context.Context, userID string, until, now time.Time) (err error) {
	defer wrap(&err, "SnoozeSurvey(%s)", userID)
	return tx.setSurveyState(ctx, userID, "snoozed_until", ms(until), now)
}

// StopSurvey keeps the prompt from the user for good ("Don't ask again").
func (tx *Tx) StopSurvey(ctx context.Context, userID string, now time.Time) (err error) {
	defer wrap(&err, "StopSurvey(%s)", userID)
	return tx.setSurveyState(ctx, userID, "never_at", ms(now), now)
}

// MarkSurveyPrompted records that the prompt is shown in the session and
// reports whether it was not yet shown in it: of several requests of one
// session at once, one gets true.
func (tx *Tx) MarkSurveyPrompted(ctx context.Context, userID, sessionID string, now time.Time) (_ bool, err error) {
	defer wrap(&err, "MarkSurveyPrompted(%s)", userID)
	n, err := tx.affected(ctx, `INSERT INTO survey_state (user_id, prompted_session, updated_at) VALUES (?,?,?)
		ON CONFLICT (user_id) DO UPDATE SET prompted_session = excluded.prompted_session, updated_at = excluded.updated_at
		WHERE survey_state.prompted_session <> excluded.prompted_session`, userID, sessionID, ms(now))
	return n == 1, err
}

// AddSurveyAnswer stores an answer and marks its user's state answered. A
// second answer of the user on the same day is ErrDuplicate.
func (tx *Tx) AddSurveyAnswer(ctx context.Context, a *SurveyAnswer) (err error) {
	defer wrap(&err, "AddSurveyAnswer(%s)", a.UserID)
	if _, err := tx.exec(ctx, `INSERT INTO survey_answers (id, user_id, day, created_at, satisfaction, ease, purpose, comment) VALUES (?,?,?,?,?,?,?,?)`,
		a.ID, a.UserID, a.Day, ms(a.Created), a.Satisfaction, a.Ease, a.Purpose, a.Comment); err != nil {
		return err
	}
	return tx.setSurveyState(ctx, a.UserID, "answered_at", ms(a.Created), a.Created)
}

// UserSurveyAnswers returns the answers of a user, oldest first (for the
// user's export).
func (c conn) UserSurveyAnswers(ctx context.Context, userID string) (_ []*SurveyAnswer, err error) {
	defer wrap(&err, "UserSurveyAnswers(%s)", userID)
	var out []*SurveyAnswer
	err = c.eachSurveyAnswer(ctx, `SELECT id, user_id, day, created_at, satisfaction, ease, purpose, comment FROM survey_answers
		WHERE user_id = ? ORDER BY created_at, id`, []any{userID}, func(a *SurveyAnswer) error {
		out = append(out, a)
		return nil
	})
	return out, err
}

// EachSurveyAnswer calls fn with every answer made in [from, to) (zero
// times: open), oldest first, without its user.
func (c conn) EachSurveyAnswer(ctx context.Context, from, to time.Time, fn func(*SurveyAnswer) error) (err error) {
	defer wrap(&err, "EachSurveyAnswer")
	lo, hi := surveyRange(from, to)
	return c.eachSurveyAnswer(ctx, `SELECT id, '', day, created_at, satisfaction, ease, purpose, comment FROM survey_answers
		WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id`, []any{lo, hi}, fn)
}

func (c conn) eachSurveyAnswer(ctx context.Context, query string, args []any, fn func(*SurveyAnswer) error) error {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a SurveyAnswer
		var user sql.NullString
		var created int64
		if err := rows.Scan(&a.ID, &user, &a.Day, &created, &a.Satisfaction, &a.Ease, &a.Purpose, &a.Comment); err != nil {
			return err
		}
		a.UserID, a.Created = user.String, fromMS(created)
		if err := fn(&a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TallySurvey adds up the answers made in [from, to) (zero times: open),
// with the newest comments, at most comments of them, without their users.
func (c conn) TallySurvey(ctx context.Context, from, to time.Time, comments int) (_ *SurveyTally, err error) {
	defer wrap(&err, "TallySurvey")
	lo, hi := surveyRange(from, to)
	t := &SurveyTally{Purposes: map[string]int{}}
	// counts reads "value, count" rows grouped by col, one of this
	// function's constants.
	counts := func(col string, scan func(r *rows) error) error {
		rows, err := c.query(ctx, `SELECT `+col+`, COUNT(*) FROM survey_answers WHERE created_at >= ? AND created_at < ? GROUP BY `+col, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	rating := func(into *[6]int) func(r *rows) error {
		return func(row *rows) error {
			var r, n int
			if err := row.Scan(&r, &n); err != nil {
				return err
			}
			if r >= 1 && r <= 5 {
				into[r] += n
			}
			return nil
		}
	}
	if err := counts("satisfaction", rating(&t.Satisfaction)); err != nil {
		return nil, err
	}
	for _, n := range t.Satisfaction {
		t.Count += n
	}
	if err := counts("ease", rating(&t.Ease)); err != nil {
		return nil, err
	}
	if err := counts("purpose", func(row *rows) error {
		var p string
		var n int
		err := row.Scan(&p, &n)
		t.Purposes[p] += n
		return err
	}); err != nil {
		return nil, err
	}
	week := "(created_at - " + strconv.Itoa(mondayMS) + ") / " + strconv.Itoa(msPerWeek)
	weeks, err := c.query(ctx, `SELECT `+week+`, COUNT(*), SUM(satisfaction), SUM(ease) FROM survey_answers
		WHERE created_at >= ? AND created_at < ? GROUP BY 1 ORDER BY 1`, lo, hi)
	if err != nil {
		return nil, err
	}
	defer weeks.Close()
	for weeks.Next() {
		var w SurveyWeek
		var n int64
		if err := weeks.Scan(&n, &w.Count, &w.SatisfactionSum, &w.EaseSum); err != nil {
			return nil, err
		}
		w.Start = fromMS(mondayMS + n*msPerWeek)
		t.Weeks = append(t.Weeks, w)
	}
	if err := weeks.Err(); err != nil {
		return nil, err
	}
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM survey_answers WHERE created_at >= ? AND created_at < ? AND comment <> ''`, lo, hi).Scan(&t.CommentCount); err != nil {
		return nil, err
	}
	err = c.eachSurveyAnswer(ctx, `SELECT id, '', day, created_at, satisfaction, ease, purpose, comment FROM survey_answers
		WHERE created_at >= ? AND created_at < ? AND comment <> '' ORDER BY created_at DESC, id LIMIT ?`, []any{lo, hi, comments}, func(a *SurveyAnswer) error {
		t.Comments = append(t.Comments, a)
		return nil
	})
	return t, err
}

// Operator is an account made an operator of the deployment.
type Operator struct {
	UserID    string
	Email     string
	FirstName string
	LastName  string
	Since     time.Time
}

// AddOperator makes the user an operator and reports whether they were
// not one already.
func (tx *Tx) AddOperator(ctx context.Context, userID string, now time.Time) (_ bool, err error) {
	defer wrap(&err, "AddOperator(%s)", userID)
	n, err := tx.affected(ctx, `INSERT INTO operators (user_id, created_at) VALUES (?,?) ON CONFLICT DO NOTHING`, userID, ms(now))
	return n == 1, err
}

// RemoveOperator ends the user's standing as an operator and reports
// whether they were one.
func (tx *Tx) RemoveOperator(ctx context.Context, userID string) (_ bool, err error) {
	defer wrap(&err, "RemoveOperator(%s)", userID)
	n, err := tx.affected(ctx, `DELETE FROM operators WHERE user_id = ?`, userID)
	return n > 0, err
}

// IsOperator reports whether the user was made an operator (AddOperator).
func (c conn) IsOperator(ctx context.Context, userID string) (_ bool, err error) {
	defer wrap(&err, "IsOperator(%s)", userID)
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(*) FROM operators WHERE user_id = ?`, userID).Scan(&n)
	return n > 0, err
}

// ListOperators returns the operators made with AddOperator, by address.
func (c conn) ListOperators(ctx context.Context) (_ []*Operator, err error) {
	defer wrap(&err, "ListOperators")
	rows, err := c.query(ctx, `SELECT u.id, u.email, u.first_name, u.last_name, o.created_at FROM operators o JOIN users u ON u.id = o.user_id ORDER BY u.email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Operator
	for rows.Next() {
		var o Operator
		var since int64
		if err := rows.Scan(&o.UserID, &o.Email, &o.FirstName, &o.LastName, &since); err != nil {
			return nil, err
		}
		o.Since = fromMS(since)
		out = append(out, &o)
	}
	return out, rows.Err()
}
