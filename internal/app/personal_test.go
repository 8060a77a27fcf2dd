package app

import (
	"context"
	"testing"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// TestContainedReason: the user's e-mail address, its local part from 4
// characters, the first and last names from 3, an organization's name
// from 3 (with or without its spaces) and the word "portal" are found in
// any case; shorter ones are not, nor someone else's.
func TestContainedReason(t *testing.T) {
	pd := &personalData{first: "Ann", last: "Li", email: "ann.smith@example.com", names: []string{"Annabel"}, orgs: []string{"Acme Corp"}}
	for p, want := range map[string]string{
		"x-ANN.SMITH@example.com": "it contains your email address",
		"ann.smith-horse":         "it contains the part of your email address before the @",
		"PlANNed horse":           "it contains your first name",
		"my annabel rose":         "it contains your first name", // Ann first
		"ACMECORP horse":          `it contains the name of your organization "Acme Corp"`,
		"acme corp horse":         `it contains the name of your organization "Acme Corp"`,
		"Globex battery":          `it contains the name of your organization "Globex"`,
		"my PORTAL horse":         `it contains the word "portal"`,
		"ｐｏｒｔａｌ horse":            `it contains the word "portal"`, // NFKC: normalised first, as brokenRules does
		"li-horse-battery":        "",                              // a last name of 2 characters
		"correct horse 1":         "",
		"portland horse":          "",
	} {
		p = authn.NormalizePassword(p)
		if got := containedReason(p, pd, []string{"Globex", "HP"}); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
	short := &personalData{first: "Bo", last: "Wu", email: "bob@example.com"}
	for _, p := range []string{"bob horse battery", "hp horse battery"} {
		if got := containedReason(p, short, []string{"HP"}); got != "" {
			t.Errorf("%q for bob@example.com: %q, want none (a local part under 4 characters, an organization name under 3)", p, got)
		}
	}
	if got := containedReason("portal", nil, nil); got == "" {
		t.Error("portal without personal data: accepted")
	}

	// Through the policy: the organizations of the user's policies.
	ep := combinePolicies([]store.OrgPolicy{{OrgID: "a", OrgName: "Initech", Policy: portal.PasswordPolicy{}}})
	_, err := checkPassword(context.Background(), "initech horse battery", ep, &personalData{first: "Bob", last: "Jones", email: "bob@example.com"})
	if msg := portal.ErrorMessage(err); msg != `password policy not met: not a common or easily guessed password (it contains the name of your organization "Initech")` {
		t.Errorf("an organization's name (policy disabled): %q", msg)
	}
}
