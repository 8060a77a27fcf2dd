// Package server is Portal's HTTP transport: the Mist-compatible JSON API
// and the HTML GUI, both thin layers over the app service.
package server

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"time"

	"portal"
	"portal/internal/app"
	"portal/internal/secevent"
)

// Options configure the HTTP server.
type Options struct {
	Service       *app.Service
	Logger        *slog.Logger
	SecureCookies bool
	Ready         func(ctx context.Context) error // readiness check (database reachable)
	Metrics       *Metrics                        // nil: a private registry
	Version       string
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MetricsAllow are the clients besides loopback that may read /metrics
	// (metrics.go); MetricsElsewhere leaves /metrics out of this handler, for
	// a separate listener (Metrics.Handler).
	MetricsAllow     []netip.Prefix
	MetricsElsewhere bool
	// Draining reports that the process is shutting down: /readyz then
	// answers 503 so that load balancers stop sending requests here.
	Draining func() bool
}

type server struct {
	svc     *app.Service
	log     *slog.Logger
	secure  bool
	ready   func(ctx context.Context) error
	metrics *Metrics
	pages   map[string]*template.Template
	version string
	proxies []netip.Prefix
	mux     *http.ServeMux // for telling 404 from 405 on the API
	// metricsAllow and metricsElsewhere: Options.MetricsAllow and
	// Options.MetricsElsewhere.
	metricsAllow     []netip.Prefix
	metricsElsewhere bool
	draining         func() bool // Options.Draining
	// cop refuses unsafe requests that browsers send from other sites
	// (and the GETs that change state: unsafeGET).
	cop *http.CrossOriginProtection
}

// NewServer returns the whole HTTP surface of Portal.
func NewServer(o Options) (http.Handler, error) {
	s, err := newServer(o)
	if err != nil {
		return nil, err
	}
	return s.handler(s.routes), nil
}

func newServer(o Options) (*server, error) {
	s := &server{svc: o.Service, log: o.Logger, secure: o.SecureCookies, ready: o.Ready, metrics: o.Metrics, version: o.Version, proxies: o.TrustedProxies,
		metricsAllow: o.MetricsAllow, metricsElsewhere: o.MetricsElsewhere, draining: o.Draining}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	if s.draining == nil {
		s.draining = func() bool { return false }
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.cop = http.NewCrossOriginProtection()
	s.cop.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))
	return s, nil
}

// handler serves the routes that routes registers, with the middleware.
func (s *server) handler(routes func(routeRegistrar)) http.Handler {
	mux := http.NewServeMux()
	routes(mux)
	s.mux = mux
	var h http.Handler = mux
	h = s.cop.Handler(h)
	h = s.common(h)
	return h
}

// status maps error codes to HTTP statuses, in one place.
var status = map[string]int{
	portal.EINVALID:      http.StatusBadRequest,
	portal.EUNAUTHORIZED: http.StatusUnauthorized,
	portal.EFORBIDDEN:    http.StatusForbidden,
	portal.ENOTFOUND:     http.StatusNotFound,
	portal.EMETHOD:       http.StatusMethodNotAllowed,
	portal.ECONFLICT:     http.StatusConflict,
	portal.ETOOMANY:      http.StatusTooManyRequests,
	portal.EINTERNAL:     http.StatusInternalServerError,
	portal.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

func errorStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	if st, ok := status[portal.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// logError logs internal errors with the request id; clients see only a
// generic message for them. A refusal (403) or a rate limit hit (429) is a
// security event, unless the service logged one with its reason already.
func (s *server) logError(r *http.Request, err error) {
	st := errorStatus(err)
	if st >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "err", err, "method", r.Method, "path", logPath(r), "request_id", requestID(r.Context()))
	}
	if ev, ok := refusalEvents[st]; ok && !secevent.Logged(r.Context()) {
		secevent.Log(r.Context(), s.log, ev, "", "reason", withoutAddresses(portal.ErrorMessage(err)), "method", r.Method, "path", logPath(r))
	}
}

var refusalEvents = map[int]secevent.Event{http.StatusForbidden: secevent.Forbidden, http.StatusTooManyRequests: secevent.RateLimited}

// emailLike is an e-mail address in a message.
var emailLike = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)

// withoutAddresses is a refusal's message for a security event: the
// e-mail addresses some messages name ("this invitation is for …") left
// out.
func withoutAddresses(msg string) string { return emailLike.ReplaceAllString(msg, "<address>") }

func retryAfter(w http.ResponseWriter, err error) {
	var e *portal.Error
	if errors.As(err, &e) && (e.Code == portal.ETOOMANY || e.Code == portal.EUNAVAILABLE) {
		secs := int(e.RetryAfter / time.Second)
		w.Header().Set("Retry-After", itoa(max(1, secs)))
	}
}
