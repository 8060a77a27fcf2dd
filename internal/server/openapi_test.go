package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsEveryRoute fails when an API route is added to
// routes.go without its entry in our OpenAPI document.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	n := 0
	for _, p := range RoutePatterns() { // Sign in with Google's too
		method, path, ok := strings.Cut(p, " ")
		if !ok || !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		n++
		ops, found := doc.Paths[path]
		if !found {
			t.Errorf("route %s is not in openapi.json", p)
			continue
		}
		if _, found := ops[strings.ToLower(method)]; !found {
			t.Errorf("route %s: method missing in openapi.json", p)
		}
	}
	if n < 10 {
		t.Fatalf("only %d API routes seen; the recorder is broken", n)
	}
}

type patternRecorder struct{ patterns []string }

// mux returns a ServeMux whose registrations are recorded.
func (p *patternRecorder) mux() routeRegistrar { return p }

func (p *patternRecorder) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	p.patterns = append(p.patterns, pattern)
}

func (p *patternRecorder) Handle(pattern string, _ http.Handler) {
	p.patterns = append(p.patterns, pattern)
}
