package server_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"portal/internal/store"
)

// TestVerifyLinkOnceUsedOffersNoButton: the sign-up link offers its Verify
// button while it can be followed; once used, expired or replaced, its
// page says why and offers none.
func TestVerifyLinkOnceUsedOffersNoButton(t *testing.T) {
	e := newAPIEnv(t, nil, store.SQLite)
	const button = `action="/verify/register"`
	page := func(token string) (int, string) {
		t.Helper()
		r := sendRaw(t, e.st, e.st.Client(), "GET", "/verify/register?token="+url.QueryEscape(token), nil, false, nil)
		return r.Status, string(r.Body)
	}
	e.want(e.register(e.st.Client(), "new@example.com", "correct horse 1", nil), 200, "sign up")
	token := e.verifyToken("new@example.com", 1)
	if st, body := page(token); st != 200 || !strings.Contains(body, button) {
		t.Fatalf("a fresh link: %d, Verify button shown: %v", st, strings.Contains(body, button))
	}
	r := sendRaw(t, e.st, e.st.Client(), "POST", "/verify/register", strings.NewReader("token="+url.QueryEscape(token)), true,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.Status != 303 {
		t.Fatalf("verify: %d", r.Status)
	}
	for name, tc := range map[string]struct {
		token  string
		status int
		says   string
	}{
		"used":    {token, 400, "This link has already been used."},
		"unknown": {strings.Repeat("x", 43), 404, "This link is invalid or was replaced by a newer one."},
	} {
		st, body := page(tc.token)
		if st != tc.status || !strings.Contains(body, tc.says) || strings.Contains(body, button) {
			t.Errorf("%s link: %d, says %q: %v, Verify button shown: %v", name, st, tc.says, strings.Contains(body, tc.says), strings.Contains(body, button))
		}
	}
	// Expired.
	e.want(e.register(e.st.Client(), "late@example.com", "correct horse 1", nil), 200, "sign up")
	late := e.verifyToken("late@example.com", 1)
	e.st.Clock.Advance(8 * 24 * time.Hour)
	if st, body := page(late); st != 400 || !strings.Contains(body, "This link has expired") || strings.Contains(body, button) {
		t.Errorf("expired link: %d, Verify button shown: %v", st, strings.Contains(body, button))
	}
}
