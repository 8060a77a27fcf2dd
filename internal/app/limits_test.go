package app

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestREADMELimits: every rate limit is stated in the README's Limits
// section, with its numbers: the limit's readme phrase appears there, and
// the phrase holds the limit's maximum, window, lock and maximum lock.
// Changing a number in rateLimits without the README (or the other way
// round) fails here.
func TestREADMELimits(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	start := strings.Index(section, "\n### Limits\n")
	if start < 0 {
		t.Fatal("README has no ### Limits section")
	}
	section = section[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	section = strings.Join(strings.Fields(section), " ")

	seen := map[string]bool{}
	for _, l := range rateLimits {
		if seen[l.name] {
			t.Errorf("limit %s listed twice", l.name)
		}
		seen[l.name] = true
		if l.readme == "" {
			t.Errorf("limit %s: no README statement", l.name)
			continue
		}
		if !strings.Contains(section, l.readme) {
			t.Errorf("limit %s: the README's Limits section does not say %q", l.name, l.readme)
		}
		want := map[string][]string{"maximum": {strconv.Itoa(l.max)}, "window": durationWords(l.window)}
		if l.lock > 0 && l.lock != l.window {
			want["lock"] = durationWords(l.lock)
		}
		if l.maxLock > 0 {
			want["maximum lock"] = durationWords(l.maxLock)
			if !strings.Contains(l.readme, "doubling") {
				t.Errorf("limit %s: %q does not say the lock doubles", l.name, l.readme)
			}
		}
		for what, forms := range want {
			found := false
			for _, f := range forms {
				found = found || regexp.MustCompile(`(^|\W)`+regexp.QuoteMeta(f)+`(\W|$)`).MatchString(l.readme)
			}
			if !found {
				t.Errorf("limit %s: %q does not state its %s (%s)", l.name, l.readme, what, strings.Join(forms, " or "))
			}
		}
	}
}

// durationWords are the ways the README writes d.
func durationWords(d time.Duration) []string {
	switch {
	case d == time.Hour:
		return []string{"an hour", "1 hour"}
	case d%time.Hour == 0:
		return []string{fmt.Sprintf("%d hours", d/time.Hour)}
	case d == time.Minute:
		return []string{"1 minute", "a minute"}
	default:
		return []string{fmt.Sprintf("%d minutes", d/time.Minute)}
	}
}

// TestRateLimitRefusal: one wording and a whole number of seconds for
// every refusal.
func TestRateLimitRefusal(t *testing.T) {
	for _, c := range []struct {
		l    *rateLimit
		d    time.Duration
		secs int
		msg  string
	}{
		{limitLoginAccount, 59*time.Second + time.Millisecond, 60, "too many failed logins; try again in 60 seconds"},
		{limitLoginAddress, 15 * time.Minute, 900, "too many login attempts from your address; try again in 15 minutes"},
		{limitInviteAddress, time.Hour, 3600, "too many invitations mailed to ann@example.com; try again in 60 minutes"},
		{limitTwoFactor, time.Millisecond, 1, "too many wrong codes, so two-factor authentication is locked; try again in 1 second"},
	} {
		e := c.l.tooMany("ann@example.com", c.d)
		if e.RetryAfter != time.Duration(c.secs)*time.Second || e.Message != c.msg {
			t.Errorf("%s for %v: %v %q, want %ds %q", c.l.name, c.d, e.RetryAfter, e.Message, c.secs, c.msg)
		}
	}
}
