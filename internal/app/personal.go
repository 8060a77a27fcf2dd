package app

import (
	"strings"
	"unicode/utf8"

	"portal/internal/authn"
)

// Passwords with the user's own data in them (ASVS 5.0 6.2.11). A new
// password must not contain, in any case, the user's e-mail address, its
// local part (the part before the @) when it has at least 4 characters,
// the first or the last name when it has at least 3, the name of one of
// the user's organizations (or the one a sign-up creates) when it has at
// least 3, or the word "portal": whoever knows the user, or which service
// this is, tries those first. A name is also found with its spaces left
// out ("Acme Corp" in acmecorp1). brokenRules checks it for every new
// password, as a reason of the rule block_common; zxcvbn is given the
// same data (passwordInputs) for the estimate of the rest.
const (
	minLocalPartContained = 4
	minNameContained      = 3
	productWord           = "portal"
)

// personalData is the user's data a new password is checked against: the
// names and e-mail address, further names (a name changed in the same
// request), further organizations (the one a sign-up creates; the user's
// own are the policy's, EffectivePolicy.OrgNames).
type personalData struct {
	first, last, email string
	names              []string
	orgs               []string
}

// inputs are the user inputs given to zxcvbn (passwordInputs).
func (pd *personalData) inputs() []string {
	if pd == nil {
		return nil
	}
	return passwordInputs(pd.first, pd.last, pd.email, pd.names...)
}

// containedReason says which of the user's data (or the word "portal")
// the normalised password p contains, as the reason of a refusal ("it
// contains your last name"), or "" when it contains none. orgs are the
// names of the user's organizations.
func containedReason(p string, pd *personalData, orgs []string) string {
	lower := strings.ToLower(p)
	has := func(s string, minLen int) bool {
		s = strings.ToLower(authn.NormalizePassword(strings.TrimSpace(s)))
		if s == "" || utf8.RuneCountInString(s) < minLen {
			return false
		}
		return strings.Contains(lower, s) || strings.Contains(lower, strings.Join(strings.Fields(s), ""))
	}
	if pd != nil {
		local, _, _ := strings.Cut(pd.email, "@")
		switch {
		case has(pd.email, 1):
			return "it contains your email address"
		case has(local, minLocalPartContained):
			return "it contains the part of your email address before the @"
		case has(pd.first, minNameContained):
			return "it contains your first name"
		case has(pd.last, minNameContained):
			return "it contains your last name"
		}
		for _, n := range pd.names {
			if has(n, minNameContained) {
				return "it contains your name"
			}
		}
		orgs = append(orgs[:len(orgs):len(orgs)], pd.orgs...)
	}
	for _, o := range orgs {
		if has(o, minNameContained) {
			return `it contains the name of your organization "` + strings.TrimSpace(o) + `"`
		}
	}
	if has(productWord, 0) {
		return `it contains the word "portal"`
	}
	return ""
}
