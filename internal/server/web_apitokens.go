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

// apiTokensData is the data of the API Tokens section.
type apiTokensData struct {
	Tokens  []apiTokenRow
	New     *app.APIToken // just created: its key is shown this once
	Max     int
	NameMax int
}

// newAPITokenKey carries a token just created to the section's load.
type newAPITokenKey struct{}

// sectionAPITokens is API Tokens: the list with Delete per token (POST
// /account/apitokens with token_id) and Create (POST
// /account/apitokens/create, webCreateAPIToken), whose answer shows the key.
func (s *server) sectionAPITokens() accountSection {
	return accountSection{
		name: "apitokens",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			list, err := s.svc.ListAPITokens(ctx, a)
			if err != nil {
				return nil, err
			}
			p := app.Prefs(a.User)
			d := &apiTokensData{Max: app.MaxAPITokens, NameMax: app.MaxAPITokenNameLen}
			d.New, _ = ctx.Value(newAPITokenKey{}).(*app.APIToken)
			for _, t := range list {
				row := apiTokenRow{ID: t.ID, Name: t.Name, Created: p.Time(t.Created), Expired: t.Expired}
				if !t.LastUsed.IsZero() {
					row.LastUsed = p.Time(t.LastUsed)
				}
				d.Tokens = append(d.Tokens, row)
			}
			return d, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, error) {
			id := r.PostForm.Get("token_id")
			if id == "" {
				return "", portal.Errorf(portal.EINVALID, "choose a token to delete")
			}
			id, err := formID(id, "API token")
			if err != nil {
				return "", err
			}
			t, err := s.svc.DeleteAPIToken(r.Context(), a, id)
			if err != nil {
				return "", err
			}
			return "Deleted API token " + t.Name + ": it no longer works.", nil
		},
	}
}

// webCreateAPIToken handles POST /account/apitokens/create: My Account is
// shown again (not redirected to) with the new key, which appears nowhere
// else, ever.
func (s *server) webCreateAPIToken(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	t, err := s.svc.CreateAPIToken(r.Context(), a, r.PostForm.Get("name"))
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderAccount(w, r, v, a, status, "apitokens") })
	}
	v.Flash = "API token " + t.Name + " created. Copy its key now: it will not be shown again."
	ctx := context.WithValue(r.Context(), newAPITokenKey{}, t)
	return s.renderAccount(w, r.WithContext(ctx), v, a, http.StatusOK, "")
}
