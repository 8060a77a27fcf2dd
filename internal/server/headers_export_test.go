package server

import (
	"io/fs"
	"net/http"
)

// PanicPaths are the routes that WithPanicRoutes adds: each panics, for
// tests of the answer after a panic (the 500 of common's recovery).
var PanicPaths = []string{"/api/v1/test/panic", "/test/panic"}

// WithPanicRoutes is NewServer with the routes of PanicPaths added.
func WithPanicRoutes(o Options) (http.Handler, error) {
	s, err := newServer(o)
	if err != nil {
		return nil, err
	}
	return s.handler(func(mux routeRegistrar) {
		for _, p := range PanicPaths {
			mux.HandleFunc("GET "+p, func(http.ResponseWriter, *http.Request) { panic("a test panic") })
		}
		s.routes(mux)
	}), nil
}

// FilesOnly is the handler of /static/ over fsys (filesOnly), for a test
// with directories the embedded static files do not have.
func FilesOnly(fsys fs.FS) http.Handler { return filesOnly(fsys) }
