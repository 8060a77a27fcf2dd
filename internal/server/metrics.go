package server

import (
	"context"
	"database/sql"
	"net/http"
	"net/netip"
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
		Mails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_mails_total", Help: "Mails by outcome: sent; failed (for good: refused permanently or out of attempts); retried (an attempt failed and will be retried, the server's outages included); logged (no SMTP server configured)."},
			[]string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.Logins, m.Mails)
	return m
}

// SetPools makes /metrics report each database connection pool, labelled
// db_name (store.DB.Pools): connections open, in use and idle, the waits
// for one (go_sql_wait_count_total, go_sql_wait_duration_seconds_total)
// and the connections closed for being idle (go_sql_max_idle_closed_total,
// go_sql_max_idle_time_closed_total), so that a pool too small for the
// load, or one that closes and opens connections under it, shows.
func (m *Metrics) SetPools(pools map[string]*sql.DB) {
	for name, db := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
	}
}

// MailQueue reads the outbox for /metrics: the messages waiting to be sent
// and when the oldest of them was queued (zero when none).
type MailQueue func(ctx context.Context) (depth int, oldest time.Time, err error)

// SetMailQueue makes /metrics report the outbox at each scrape:
// portal_mail_queue_depth and portal_mail_oldest_unsent_age_seconds (0
// when the queue is empty). A scrape that cannot read the outbox leaves
// both out.
func (m *Metrics) SetMailQueue(q MailQueue, now func() time.Time) {
	m.reg.MustRegister(&mailQueueCollector{q: q, now: now})
}

// SetAuthCache makes /metrics report, at each scrape, how many sessions
// and API tokens this instance holds the authentication of
// (portal_auth_cache_entries; entries, app.Service.AuthCacheEntries): with
// the Go heap's metrics beside it, what the cache costs in memory.
func (m *Metrics) SetAuthCache(entries func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portal_auth_cache_entries",
		Help: "Sessions and API tokens whose authentication this instance holds in memory (at most 50,000; about 1.5 KB each)."},
		func() float64 { return float64(entries()) }))
}

var (
	mailQueueDepth = prometheus.NewDesc("portal_mail_queue_depth", "Mails waiting in the outbox (not sent, not failed for good).", nil, nil)
	mailOldestAge  = prometheus.NewDesc("portal_mail_oldest_unsent_age_seconds", "Age of the oldest mail waiting in the outbox (0 when none).", nil, nil)
)

type mailQueueCollector struct {
	q   MailQueue
	now func() time.Time
}

func (c *mailQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mailQueueDepth
	ch <- mailOldestAge
}

func (c *mailQueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	depth, oldest, err := c.q(ctx)
	if err != nil {
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, c.now().Sub(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(mailQueueDepth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(mailOldestAge, prometheus.GaugeValue, age)
}

func (m *Metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Handler serves GET /metrics to every client, and nothing else (404): for
// a listener of its own (PORTAL_METRICS_ADDR), which only the monitoring
// network should reach.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	return mux
}

// metricsGate serves /metrics on the main address to loopback clients and
// to those in PORTAL_METRICS_ALLOW only; anyone else gets the 404 page of
// an address Portal does not serve, for any method, so nothing hints that
// the path exists.
//
// The client is the TCP peer, never a header it sent. When the peer is one
// of PORTAL_TRUSTED_PROXIES, the request comes from behind the load
// balancer: the proxy's own (often loopback or private) address says
// nothing about the client, so the client address found in X-Forwarded-For
// (clientIP, the right-most address that is not a trusted proxy) must
// itself be allowed, and a proxied request without one is refused.
func (s *server) metricsGate(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.metricsAllowed(r) {
			s.pageNotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	}
}

func (s *server) metricsAllowed(r *http.Request) bool {
	peer := peerIP(r)
	client := peer
	if s.trusted(peer) {
		client = clientIP(r)
		if client == peer { // no client address behind the proxy
			return false
		}
	}
	a, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	if a.IsLoopback() {
		return true
	}
	for _, p := range s.metricsAllow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
