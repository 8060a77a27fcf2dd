package server

import (
	"net/http"

	"portal/internal/app"
)

// RestrictedRoute is a route behind authentication (authed or page) with
// the restricted sessions it is declared open to (restrict.go).
type RestrictedRoute struct {
	Pattern string
	API     bool // a JSON API route (authed), else a page
	// OpenWhenPending, OpenWhenRestricted, OpenWhenEnrolDue: the route
	// stays open to a session owing its second factor, to a password-only
	// or expired-password session, to a user whose 2FA enrolment is due.
	OpenWhenPending, OpenWhenRestricted, OpenWhenEnrolDue bool
}

// ProbeReached is the status of a probe's stand-in handler.
const ProbeReached = http.StatusTeapot

// RestrictionProbe serves Portal's routes (routes.go) over svc, with the
// handler behind each authenticated route replaced by one that answers
// ProbeReached: a request it lets through reaches it, one it refuses gets
// the refusal. It returns the authenticated routes with their declarations
// (for TestRestrictedSessionsEveryRoute).
func RestrictionProbe(svc *app.Service) (http.Handler, []RestrictedRoute, error) {
	s, err := newServer(Options{Service: svc})
	if err != nil {
		return nil, nil, err
	}
	var routes []RestrictedRoute
	h := s.handler(func(mux routeRegistrar) {
		s.routes(probeRegistrar{mux: mux, routes: &routes})
	})
	return h, routes, nil
}

type probeRegistrar struct {
	mux    routeRegistrar
	routes *[]RestrictedRoute
}

func (p probeRegistrar) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	p.mux.HandleFunc(pattern, h)
}

func (p probeRegistrar) Handle(pattern string, h http.Handler) {
	if stub, open, api, ok := probeStub(h); ok {
		*p.routes = append(*p.routes, RestrictedRoute{Pattern: pattern, API: api,
			OpenWhenPending: open&whenPending != 0, OpenWhenRestricted: open&whenRestricted != 0, OpenWhenEnrolDue: open&whenEnrolDue != 0})
		h = stub
	}
	p.mux.Handle(pattern, h)
}

// probeStub returns h with the handler behind its authentication replaced
// by the stand-in, and what h is declared open to.
func probeStub(h http.Handler) (stub http.Handler, open restriction, api, ok bool) {
	switch rt := h.(type) {
	case authedRoute:
		rt.h = func(w http.ResponseWriter, _ *http.Request, _ *app.Actor) error {
			w.WriteHeader(ProbeReached)
			return nil
		}
		return rt, rt.open, true, true
	case pageRoute:
		rt.h = func(w http.ResponseWriter, _ *http.Request, _ *view, _ *app.Actor) error {
			w.WriteHeader(ProbeReached)
			return nil
		}
		return rt, rt.open, false, true
	case unsafeGETRoute:
		inner, open, api, ok := probeStub(rt.h)
		rt.h = inner
		return rt, open, api, ok
	}
	return h, 0, false, false
}
