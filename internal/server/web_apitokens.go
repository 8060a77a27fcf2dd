package server

import (
	"context"
	"net/http"

	"portal"
	"portal/internal/app"
)

// apiTokenRow is one API token as the API Tokens section of My Account
// shows it.
type apiTokenRow struct {
	ID       string
	Name     string
	Created  string // in the user's time zone and clock
	LastUsed string // "" when never used
	Expired  bool
}

// apiTokensData is the data of the API Tokens section; a token just
// created, with its key, is the section's .Data.Shown "apitokens".
type apiTokensData struct {
	Tokens []apiTokenRow
	Max    int
}

// sectionAPITokens is API Tokens: the list with Delete per token and
// Create, both POST /account/apitokens (with token_id: delete). Create
// shows the new key, this once.
func (s *server) sectionAPITokens() accountSection {
	return accountSection{
		name:  "apitokens",
		title: "API Tokens",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			list, err := s.svc.ListAPITokens(ctx, a)
			if err != nil {
				return nil, err
			}
			p := app.Prefs(a.User)
			d := &apiTokensData{Max: app.MaxAPITokens}
			for _, t := range list {
				row := apiTokenRow{ID: t.ID, Name: t.Name, Created: p.Time(t.Created), Expired: t.Expired}
				if !t.LastUsed.IsZero() {
					row.LastUsed = p.Time(t.LastUsed)
				}
				d.Tokens = append(d.Tokens, row)
			}
			return d, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			if !r.PostForm.Has("token_id") {
				t, err := s.svc.CreateAPIToken(r.Context(), a, r.PostForm.Get("name"))
				if err != nil {
					return "", nil, err
				}
				return "API token " + t.Name + " created. Copy its key now: it will not be shown again.", t, nil
			}
			id := r.PostForm.Get("token_id")
			if id == "" {
				return "", nil, portal.Errorf(portal.EINVALID, "choose a token to delete")
			}
			id, err := parseID(id, "API token")
			if err != nil {
				return "", nil, err
			}
			t, err := s.svc.DeleteAPIToken(r.Context(), a, id)
			if err != nil {
				return "", nil, err
			}
			return "Deleted API token " + t.Name + ": it no longer works.", nil, nil
		},
	}
}
