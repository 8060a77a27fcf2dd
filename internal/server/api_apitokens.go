package server

import (
	"net/http"

	"portal"
	"portal/internal/app"
)

// apiTokenJSON is Mist's user_apitoken. The key is present only in the
// answer to the token's creation; last_used is null until first use.
type apiTokenJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Key         string `json:"key,omitempty"`
	CreatedTime int64  `json:"created_time"`
	LastUsed    *int64 `json:"last_used"`
}

func toAPITokenJSON(t *app.APIToken) apiTokenJSON {
	out := apiTokenJSON{ID: t.ID, Name: t.Name, Key: t.Key, CreatedTime: t.Created.Unix()}
	if !t.LastUsed.IsZero() {
		used := t.LastUsed.Unix()
		out.LastUsed = &used
	}
	return out
}

type apiTokenRequest struct {
	Name *string `json:"name"`
}

func (in apiTokenRequest) name() (string, error) {
	if in.Name == nil {
		return "", portal.Errorf(portal.EINVALID, "name is required")
	}
	return *in.Name, nil
}

// apiListAPITokens is GET /api/v1/self/apitokens.
func (s *server) apiListAPITokens(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	list, err := s.svc.ListAPITokens(r.Context(), a)
	if err != nil {
		return err
	}
	out := make([]apiTokenJSON, len(list))
	for i, t := range list {
		out[i] = toAPITokenJSON(t)
	}
	return ok(w, out)
}

// apiCreateAPIToken is POST /api/v1/self/apitokens {"name"}: the answer
// is the one place where the key appears.
func (s *server) apiCreateAPIToken(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in apiTokenRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	name, err := in.name()
	if err != nil {
		return err
	}
	t, err := s.svc.CreateAPIToken(r.Context(), a, name)
	if err != nil {
		return err
	}
	return ok(w, toAPITokenJSON(t))
}

// apiGetAPIToken is GET /api/v1/self/apitokens/{apitoken_id}.
func (s *server) apiGetAPIToken(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "apitoken_id", "API token")
	if err != nil {
		return err
	}
	t, err := s.svc.GetAPIToken(r.Context(), a, id)
	if err != nil {
		return err
	}
	return ok(w, toAPITokenJSON(t))
}

// apiUpdateAPIToken is PUT /api/v1/self/apitokens/{apitoken_id} {"name"}.
func (s *server) apiUpdateAPIToken(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "apitoken_id", "API token")
	if err != nil {
		return err
	}
	var in apiTokenRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	name, err := in.name()
	if err != nil {
		return err
	}
	t, err := s.svc.RenameAPIToken(r.Context(), a, id, name)
	if err != nil {
		return err
	}
	return ok(w, toAPITokenJSON(t))
}

// apiDeleteAPIToken is DELETE /api/v1/self/apitokens/{apitoken_id}.
func (s *server) apiDeleteAPIToken(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "apitoken_id", "API token")
	if err != nil {
		return err
	}
	if _, err := s.svc.DeleteAPIToken(r.Context(), a, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}
