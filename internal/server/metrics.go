package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are Portal's Prometheus metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	Logins   *prometheus.CounterVec
	Mails    *prometheus.CounterVec
}

// NewMetrics registers Portal's metrics on reg (a new registry when nil).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_http_requests_total", Help: "HTTP requests by method, route and status."},
			[]string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portal_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets},
			[]string{"method", "route"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_logins_total", Help: "Login attempts by outcome (success, failure, throttled)."},
			[]string{"outcome"}),
		Mails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_mails_total", Help: "Mail delivery attempts by outcome (sent, failed; logged when no SMTP server is configured)."},
			[]string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.Logins, m.Mails)
	return m
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
