package server_test

import (
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
)

// TestErrorNamesField: a refused value names its field (the API's name) in
// the error's "field", beside "detail": clients and the GUI mark that field.
func TestErrorNamesField(t *testing.T) {
	spec := mistspec.Load(t)
	e := newAPIEnv(t, spec, store.SQLite)
	ann := e.signUp("ann@example.com", "correct horse 1", "")
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"first_name": " "}, "first_name"},
		{map[string]any{"last_name": "a\u202eb"}, "last_name"},
		{map[string]any{"phone": "12345"}, "phone"},
		{map[string]any{"phone": "+1 555"}, "phone"},
		{map[string]any{"mac_format": "xx.xx"}, "mac_format"},
		{map[string]any{"timezone": "Mars/Olympus"}, "timezone"},
	} {
		r := e.do(ann, "PUT", "/api/v1/self", tc.body)
		if r.Status != 400 || e.detail(r) == "" || r.JSON(t)["field"] != tc.field {
			t.Errorf("PUT /api/v1/self %v: %d %s; want 400 naming the field %s", tc.body, r.Status, r.Body, tc.field)
		}
	}
	r := e.do(ann, "POST", "/api/v1/self/apitokens", map[string]any{"name": ""})
	if r.Status != 400 || r.JSON(t)["field"] != "name" {
		t.Errorf("a token without a name: %d %s", r.Status, r.Body)
	}
}
