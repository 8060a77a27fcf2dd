package server

import "testing"

// TestWithoutAddresses: a refusal's message logged as a security event
// names no e-mail address.
func TestWithoutAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"this invitation is for ann@example.com, but you are logged in as bob@example.org: log out": "this invitation is for <address>, but you are logged in as <address>: log out",
		`too many invitations mailed to "Cat@Example.COM"; try again in 1 hour`:                     `too many invitations mailed to "<address>"; try again in 1 hour`,
		"you cannot manage this organization":                                                       "you cannot manage this organization",
	} {
		if got := withoutAddresses(in); got != want {
			t.Errorf("withoutAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}
