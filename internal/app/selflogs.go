package app

import (
	"context"
	"fmt"
	"time"

	"portal"
	"portal/internal/store"
)

// LogQuery selects audit entries: [Start, End) or Duration back from End.
type LogQuery struct {
	Start, End int64  // epoch seconds; 0 = unset
	Duration   string // e.g. "1d", "2h", "30m", "1w"; default "1d"
	Page       portal.Page
}

// LogPage is one page of audit entries.
type LogPage struct {
	Start, End time.Time
	Page       portal.Page
	Total      int
	Results    []*portal.AuditEntry
}

// SelfLogs lists the actor's own audit entries.
func (s *Service) SelfLogs(ctx context.Context, a *Actor, q LogQuery) (_ *LogPage, err error) {
	defer wrap(&err, "SelfLogs")
	start, end, err := s.logRange(q)
	if err != nil {
		return nil, err
	}
	page, err := CheckPage(q.Page)
	if err != nil {
		return nil, err
	}
	res, total, err := s.db.ListAudit(ctx, store.AuditQuery{AdminID: a.User.ID, Start: start, End: end, Page: page})
	if err != nil {
		return nil, err
	}
	return &LogPage{Start: start, End: end, Page: page, Total: total, Results: res}, nil
}

func (s *Service) logRange(q LogQuery) (time.Time, time.Time, error) {
	d := 24 * time.Hour
	if q.Duration != "" {
		var err error
		if d, err = parseDuration(q.Duration); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	// Beyond the year 9999 the time arithmetic below would overflow.
	const maxEpoch = 253402300799
	if q.Start < 0 || q.End < 0 || q.Start > maxEpoch || q.End > maxEpoch {
		return time.Time{}, time.Time{}, portal.Errorf(portal.EINVALID, "start and end must be epoch seconds")
	}
	var start, end time.Time
	switch {
	case q.Start != 0 && q.End != 0:
		start, end = time.Unix(q.Start, 0), time.Unix(q.End, 0)
	case q.Start != 0:
		start = time.Unix(q.Start, 0)
		end = start.Add(d)
	case q.End != 0:
		end = time.Unix(q.End, 0)
		start = end.Add(-d)
	default:
		end = s.clock().Add(time.Second) // include entries of the current second
		start = end.Add(-d)
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, portal.Errorf(portal.EINVALID, "start must be before end")
	}
	return start.UTC(), end.UTC(), nil
}

// parseDuration reads Mist durations: a number followed by m, h, d or w.
func parseDuration(s string) (time.Duration, error) {
	bad := portal.Errorf(portal.EINVALID, "duration %q must be a number followed by m, h, d or w (e.g. 1d)", s)
	if len(s) < 2 || len(s) > 8 {
		return 0, bad
	}
	var n int
	if _, err := fmt.Sscanf(s[:len(s)-1], "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != s[:len(s)-1] {
		return 0, bad
	}
	unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if unit == 0 || n > 3660 {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}
