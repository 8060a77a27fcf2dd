package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
)

// apiHandler is a JSON API handler that returns its error.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// authedHandler is an API handler for a signed-in caller.
type authedHandler func(w http.ResponseWriter, r *http.Request, a *app.Actor) error

// api adapts a handler, writing its error as {"detail": …}.
func (s *server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
	}
}

// authed requires an API token, or a session with CSRF checks on unsafe
// methods. A restricted session is refused unless the route is declared
// open to it: s.authed(h, open(whenPending, …)) (restrict.go).
func (s *server) authed(h authedHandler, opens ...restriction) http.Handler {
	return authedRoute{s: s, h: h, open: open(opens...)}
}

// authedRoute is an API route for a signed-in caller (authed).
type authedRoute struct {
	s    *server
	h    authedHandler
	open restriction
}

func (rt authedRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, err := rt.s.authenticateAPI(r, rt.open)
	if err == nil {
		r = r.WithContext(app.WithActor(r.Context(), a)) // its audit entries name an API token
		err = rt.h(w, r, a)
	}
	if err != nil {
		rt.s.apiError(w, r, err)
	}
}

func (s *server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	s.logError(r, err)
	st := errorStatus(err)
	body := map[string]any{}
	var e *portal.Error
	if errors.As(err, &e) {
		for k, v := range e.Fields {
			body[k] = v
		}
	}
	switch {
	case st == http.StatusRequestEntityTooLarge:
		body["detail"] = fmt.Sprintf("request body too large: at most %d bytes", maxBody)
	case st == http.StatusServiceUnavailable:
		body["detail"] = portal.UnavailableMessage
	case st >= 500:
		body["detail"] = "internal error (request id " + requestID(r.Context()) + ")"
	default:
		body["detail"] = portal.ErrorMessage(err)
	}
	retryAfter(w, err)
	writeJSON(w, st, body)
}

func detail(msg string) map[string]any { return map[string]any{"detail": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, v any) error {
	writeJSON(w, http.StatusOK, v)
	return nil
}

// decodeJSON reads one JSON object into v, with clear messages for the
// mistakes clients make.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return portal.Errorf(portal.EINVALID, "Content-Type must be application/json")
		}
	}
	return decodeJSONBody(r.Body, v)
}

// decodeJSONBody reads exactly one JSON object (not null, an array or a
// scalar) from body into v. It returns nil, an EINVALID *portal.Error, or
// the *http.MaxBytesError of a body over the size cap.
func decodeJSONBody(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err)
	}
	if raw = bytes.TrimLeft(raw, " \t\r\n"); len(raw) == 0 || raw[0] != '{' {
		return portal.Errorf(portal.EINVALID, "request body must be a JSON object")
	}
	if dec.More() {
		return portal.Errorf(portal.EINVALID, "request body must hold a single JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return portal.Errorf(portal.EINVALID, "request body must hold a single JSON object")
	}
	if err := checkDuplicateKeys(raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns a decoding error into a client-safe EINVALID error; a
// body over the size cap stays a *http.MaxBytesError (413).
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return portal.Errorf(portal.EINVALID, "request body must be a JSON object")
	case errors.As(err, &syn):
		return portal.Errorf(portal.EINVALID, "JSON parse error at offset %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return portal.Errorf(portal.EINVALID, "request body must be a JSON object")
		}
		return portal.Errorf(portal.EINVALID, "field %q must be of type %s", typ.Field, jsonType(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return portal.Errorf(portal.EINVALID, "JSON parse error: unexpected end of input")
	default:
		return portal.Errorf(portal.EINVALID, "JSON parse error: %v", err)
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "int32", "float64", "uint":
		return "number"
	case "slice":
		return "array"
	default:
		return "object"
	}
}

// pathID reads a UUID path parameter; anything else is not found.
func pathID(r *http.Request, name, what string) (string, error) {
	return parseID(r.PathValue(name), what)
}

// parseID reads the id of a thing (a path parameter, a form field) in the
// canonical UUID form; anything else (including bytes the database would
// refuse) is not found.
func parseID(v, what string) (string, error) {
	id, err := uuid.Parse(v)
	if err != nil || len(v) != 36 {
		return "", portal.Errorf(portal.ENOTFOUND, "%s not found", what)
	}
	return id.String(), nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, portal.Errorf(portal.EINVALID, "query parameter %s must be a non-negative integer", name)
	}
	return n, nil
}

func queryPage(r *http.Request) (portal.Page, error) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return portal.Page{}, err
	}
	page, err := queryInt(r, "page")
	if err != nil {
		return portal.Page{}, err
	}
	// Out-of-range values stay out of range for CheckPage; only an absent
	// parameter (0 here) takes the default, an explicit 0 is refused.
	p := portal.Page{Limit: int(min(limit, portal.MaxPageLimit+1)), Page: int(min(page, 1_000_001))}
	if limit == 0 && r.URL.Query().Get("limit") != "" {
		p.Limit = -1
	}
	if page == 0 && r.URL.Query().Get("page") != "" {
		p.Page = -1
	}
	return app.CheckPage(p)
}

func setPageHeaders(w http.ResponseWriter, p portal.Page, total int) {
	w.Header().Set("X-Page-Total", strconv.Itoa(total))
	w.Header().Set("X-Page-Limit", strconv.Itoa(p.Limit))
	w.Header().Set("X-Page-Page", strconv.Itoa(p.Page))
}
