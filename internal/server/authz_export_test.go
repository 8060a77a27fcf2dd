package server

import (
	"portal/internal/app"
	"portal/internal/oidclogin"
)

// RoutePatterns returns every pattern registered in routes.go, in order,
// for the external tests (authz_test.go) that must cover each route: those
// of Sign in with Google too (registered only when it is on; nothing is
// fetched from the provider to register them).
func RoutePatterns() []string {
	google := oidclogin.New(oidclogin.Config{ClientID: "route-patterns", Issuer: "https://accounts.google.com", RedirectURL: "http://127.0.0.1/oauth/google/callback"})
	rec := &patternRecorder{}
	(&server{metrics: NewMetrics(nil), svc: app.New(app.Options{Google: google})}).routes(rec.mux())
	return rec.patterns
}
