package server

import (
	"context"

	"portal/internal/app"
)

// My Account ▸ Failed Logins: the recent failed logins on the account
// (app/loginfailures.go), to show the owner someone trying their password.

// loginFailureRow is one failed login as the section shows it.
type loginFailureRow struct {
	Time, IP, Device, Reason string
}

// loginFailuresData is the data of the section.
type loginFailuresData struct {
	Count int
	Rows  []loginFailureRow
}

func (s *server) sectionLoginFailures() accountSection {
	return accountSection{
		name:  "loginfailures",
		title: "Failed Logins",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			f, err := s.svc.SelfLoginFailures(ctx, a)
			if err != nil {
				return nil, err
			}
			p := app.Prefs(a.User)
			d := &loginFailuresData{Count: f.Count}
			for _, x := range f.Recent {
				d.Rows = append(d.Rows, loginFailureRow{Time: p.Time(x.Time), IP: x.IP, Device: app.ParseUserAgent(x.UserAgent).String(), Reason: x.Reason})
			}
			return d, nil
		},
	}
}
