package server

import (
	"context"
	"net/http"
	"strconv"

	"portal"
	"portal/internal/app"
)

// sessionRow is one session as the Sessions section of My Account shows it.
type sessionRow struct {
	ID       string
	Device   string // "Firefox 127 on Windows"
	IP       string
	Created  string // in the user's time zone and clock
	LastSeen string
	Current  bool
}

// sessionsData is the data of the Sessions section.
type sessionsData struct {
	Sessions []sessionRow
	Others   int // sessions other than the current one
}

// sectionSessions lists where the user is signed in, with Sign out per
// session and Sign out all other sessions: POST /account/sessions with
// session_id, or with others=1 and the current password.
func (s *server) sectionSessions() accountSection {
	return accountSection{
		name:  "sessions",
		title: "Sessions",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			list, err := s.svc.ListSessions(ctx, a)
			if err != nil {
				return nil, err
			}
			p := app.Prefs(a.User)
			d := &sessionsData{}
			for _, si := range list {
				d.Sessions = append(d.Sessions, sessionRow{ID: si.ID, Device: si.Agent.String(), IP: si.IP,
					Created: p.Time(si.Created), LastSeen: p.Time(si.LastSeen), Current: si.Current})
				if !si.Current {
					d.Others++
				}
			}
			return d, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			if r.PostForm.Get("others") != "" {
				n, err := s.svc.SignOutOtherSessions(r.Context(), a, app.Reauth{Password: r.PostForm.Get("password")})
				switch {
				case err != nil:
					return "", nil, err
				case n == 0:
					return "You were not signed in anywhere else.", nil, nil
				case n == 1:
					return "Signed out 1 other session.", nil, nil
				}
				return "Signed out " + strconv.Itoa(n) + " other sessions.", nil, nil
			}
			id := r.PostForm.Get("session_id")
			if id == "" {
				return "", nil, portal.Errorf(portal.EINVALID, "choose a session to sign out")
			}
			id, err := parseID(id, "session")
			if err != nil {
				return "", nil, err
			}
			si, err := s.svc.SignOutSession(r.Context(), a, id)
			if err != nil {
				return "", nil, err
			}
			if si.Current {
				return "You signed out this session.", nil, nil
			}
			return "Signed out the session on " + si.Agent.String() + ".", nil, nil
		},
	}
}
