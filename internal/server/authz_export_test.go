package server

// RoutePatterns returns every pattern registered in routes.go, in order,
// for the external tests (authz_test.go) that must cover each route.
func RoutePatterns() []string {
	rec := &patternRecorder{}
	(&server{metrics: NewMetrics(nil)}).routes(rec.mux())
	return rec.patterns
}
