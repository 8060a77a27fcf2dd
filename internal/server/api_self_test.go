package server_test

import (
	"testing"

	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// TestAPIUpdateSelf: PUT /api/v1/self changes names, phones (normalised to
// E.164) and display preferences; bad values are refused whole.
func TestAPIUpdateSelf(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		e := newAPIEnv(t, spec, d)
		c := e.signUp("self@example.com", "my kettle lamp 9", "")

		r := e.do(c, "PUT", "/api/v1/self", map[string]any{"first_name": " Ada ", "last_name": "Lovelace", "phone": "+44 20 7946 0958",
			"mac_format": "xxxx.xxxx.xxxx", "hour24": true, "timezone": "Europe/London"})
		e.want(r, 200, "update self")
		m := r.JSON(t)
		for k, want := range map[string]any{"first_name": "Ada", "last_name": "Lovelace", "phone": "+442079460958",
			"mac_format": "xxxx.xxxx.xxxx", "hour24": true, "timezone": "Europe/London"} {
			if m[k] != want {
				t.Errorf("%s = %v, want %v", k, m[k], want)
			}
		}
		if got := e.self(c); got["phone"] != "+442079460958" || got["first_name"] != "Ada" {
			t.Errorf("self after update: %v", got)
		}

		for _, bad := range []map[string]any{
			{"first_name": "Eve", "phone": "12345"},              // no country code
			{"first_name": "Eve", "phone": "+1 000"},             // not a number
			{"first_name": "Eve", "phone": "+99 1234 5678 9999"}, // no such country
			{"first_name": "Eve", "mac_format": "xx.xx.xx"},      // unknown format
			{"first_name": "Eve", "timezone": "Mars/Olympus"},    // unknown zone
			{"first_name": ""},                                     // empty name
			{"first_name": "Eve", "hour24": "yes"},                 // wrong type
			{"first_name": "Eve", "phone2": "+1 415 555 01000000"}, // too long a number
		} {
			r := e.do(c, "PUT", "/api/v1/self", bad)
			e.want(r, 400, "bad update")
			if e.detail(r) == "" {
				t.Errorf("%v: no detail", bad)
			}
		}
		if got := e.self(c); got["first_name"] != "Ada" || got["mac_format"] != "xxxx.xxxx.xxxx" {
			t.Errorf("a refused update changed the account: %v", got)
		}

		// Removing the phone, and the audit entry with before and after.
		e.want(e.do(c, "PUT", "/api/v1/self", map[string]any{"phone": ""}), 200, "remove phone")
		logs := e.do(c, "GET", "/api/v1/self/logs", nil).JSON(t)["results"].([]any)
		found := false
		for _, x := range logs {
			en := x.(map[string]any)
			if en["message"] == "Updated account information" {
				if b, ok := en["before"].(map[string]any); ok && b["phone"] == "+442079460958" {
					if a := en["after"].(map[string]any); a["phone"] == "" {
						found = true
					}
				}
			}
		}
		if !found {
			t.Errorf("no audit entry with the phone's before and after: %v", logs)
		}
	})
}
