package server_test

import (
	"io"
	"net/http"
	"testing"

	"portal/internal/testenv"
)

// BenchmarkServeSelf: GET /api/v1/self through Portal's whole handler (the
// middleware, the authentication, the handler and its JSON), called
// directly, without a network or a client, for a session and for an API
// token, per database. What an authenticated request costs Portal beyond
// what net/http costs any server, so that a regression in that path shows
// in review:
//
//	go test ./internal/server -run '^$' -bench ServeSelf -benchmem
//
// The log is written as JSON to io.Discard: formatted as in production
// (portal serve logs every request), but not written out.
func BenchmarkServeSelf(b *testing.B) {
	for _, d := range testenv.Dialects(b) {
		b.Run(string(d), func(b *testing.B) {
			st := testenv.NewStackWith(b, testenv.OpenDB(b, d), testenv.StackOptions{Log: io.Discard})
			c := st.SignUp(b, "load@example.com", "Bench-Pass-7q!x", "Bench Org")
			session := st.SessionToken(c)
			r := st.Do(b, c, "POST", "/api/v1/self/apitokens", map[string]any{"name": "bench"})
			if r.Status != 200 {
				b.Fatalf("create an API token: %d %s", r.Status, r.Body)
			}
			key, _ := r.JSON(b)["key"].(string)
			if session == "" || key == "" {
				b.Fatalf("no session cookie or API key (%q)", r.Body)
			}
			h := st.Server.Config.Handler
			for _, c := range []struct {
				name string
				set  func(*http.Request)
			}{
				{"session", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "sessionid", Value: session}) }},
				{"token", func(r *http.Request) { r.Header.Set("Authorization", "Token "+key) }},
			} {
				b.Run(c.name, func(b *testing.B) {
					w := &discardWriter{h: http.Header{}}
					for b.Loop() {
						req, _ := http.NewRequest("GET", st.URL+"/api/v1/self", nil)
						req.RemoteAddr = "192.0.2.1:1234"
						c.set(req)
						clear(w.h)
						w.status = 0
						h.ServeHTTP(w, req)
						if w.status != http.StatusOK {
							b.Fatalf("GET /api/v1/self: status %d", w.status)
						}
					}
				})
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
