package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"portal"
)

// FuzzDecodeJSON feeds arbitrary bodies to the API's JSON request decoder
// (seeds in testdata/fuzz/FuzzDecodeJSON). Whatever the input, it must not
// panic and must return nil, an EINVALID error (400 with a detail) or the
// *http.MaxBytesError of an oversized body (413); nil only for a body that
// is exactly one JSON object.
func FuzzDecodeJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, capped bool) {
		for _, v := range []any{&registerRequest{}, &loginRequest{}, &orgRequest{}, &siteRequest{}, &map[string]any{}} {
			var body io.Reader = bytes.NewReader(data)
			if capped { // as behind the server's body cap, scaled down
				body = http.MaxBytesReader(nil, io.NopCloser(body), 64)
			}
			err := decodeJSONBody(body, v)
			var mbe *http.MaxBytesError
			switch {
			case err == nil:
				trimmed := bytes.TrimSpace(data)
				if !json.Valid(data) || len(trimmed) == 0 || trimmed[0] != '{' {
					t.Fatalf("%T: accepted %q, which is not one JSON object", v, data)
				}
				if capped && len(data) > 64 {
					t.Fatalf("%T: accepted %d bytes over a 64-byte cap", v, len(data))
				}
			case errors.As(err, &mbe):
				if !capped || len(data) <= 64 {
					t.Fatalf("%T: MaxBytesError without a cap exceeded: %v", v, err)
				}
			case portal.ErrorCode(err) != portal.EINVALID:
				t.Fatalf("%T: %q: error %v has code %q, want %q", v, data, err, portal.ErrorCode(err), portal.EINVALID)
			case portal.ErrorMessage(err) == "":
				t.Fatalf("%T: %q: error without a message", v, data)
			}
		}
	})
}
