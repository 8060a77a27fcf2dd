package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"portal/internal/secevent"
)

const maxBody = 1 << 20 // 1 MiB

// requestID is the id of the request (secevent carries it in the
// context, for the security events of the service layer too).
func requestID(ctx context.Context) string { return secevent.RequestID(ctx) }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// common adds what every response gets: a request id, security headers, a
// body size cap, panic recovery, metrics and an access log line.
func (s *server) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		ctx := secevent.WithRequest(r.Context(), id, s.realIP(r))
		r = r.WithContext(ctx)
		sanitizeUserAgent(r)
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// Nothing is stored by a browser or proxy unless the handler says
		// so (static files: staticHandler), so that no answer for a
		// session, however it was written (an error page, a redirect, the
		// panic recovery below), is kept.
		h.Set("Cache-Control", "no-store")
		if s.secure { // PORTAL_BASE_URL is https://
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "path", logPath(r), "request_id", id)
				if sw.status == 0 { // the API's 500 in JSON, the GUI's error page
					s.internalError(sw, r)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			st := sw.status
			if st == 0 {
				st = http.StatusOK
			}
			s.metrics.observe(r.Method, route, st, time.Since(start))
			s.log.InfoContext(ctx, "request", "method", r.Method, "path", logPath(r), "status", st,
				"duration_ms", time.Since(start).Milliseconds(), "request_id", id, "ip", clientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

// internalError answers 500 after a panic (logged by common), as an
// error from a handler is answered: {"detail": …} on the API, the error
// page in the GUI.
func (s *server) internalError(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusInternalServerError, detail("internal error (request id "+requestID(r.Context())+")"))
		return
	}
	s.render(w, r, http.StatusInternalServerError, "error", &view{Title: errorTitle(http.StatusInternalServerError), ErrorPage: true,
		Error: "Something went wrong on our side. Please try again. (request id " + requestID(r.Context()) + ")"})
}

// sanitizeUserAgent makes the User-Agent header valid UTF-8 without NUL
// bytes (cut at the first one), as the database stores it with the session:
// PostgreSQL refuses both in text columns.
func sanitizeUserAgent(r *http.Request) {
	ua, ok := r.Header["User-Agent"]
	if !ok || len(ua) == 0 {
		return
	}
	v := ua[0]
	if i := strings.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(ua) != 1 || v != ua[0] {
		r.Header.Set("User-Agent", v)
	}
}

// logPath is the request's path as logged: for a route whose path carries
// a single-use token ({token}), the route pattern instead, so that no live
// token reaches the logs. The query (where GUI links carry ?token=) is
// never logged.
func logPath(r *http.Request) string {
	if strings.Contains(r.Pattern, "{token}") {
		if _, p, ok := strings.Cut(r.Pattern, " "); ok {
			return p
		}
		return r.Pattern
	}
	return r.URL.Path
}

// clientIP is the client's address as found by the common middleware.
func clientIP(r *http.Request) string {
	if ip, ok := secevent.Client(r.Context()); ok {
		return ip
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// realIP is the peer address, or, when the peer is a trusted proxy, the
// right-most address in X-Forwarded-For that is not a trusted proxy.
func (s *server) realIP(r *http.Request) string {
	peer := peerIP(r)
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break
		}
		if !s.trusted(hop) {
			return hop
		}
	}
	return peer
}

func (s *server) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range s.proxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
