package app

import (
	"slices"
	"strings"
	"testing"

	"portal"
	"portal/internal/store"
)

func ptr[T any](v T) *T { return &v }

func TestPolicyInputApply(t *testing.T) {
	base := portal.DefaultPasswordPolicy()
	good := PolicyInput{Enabled: ptr(true), MinLength: ptr(32), Freshness: ptr(90), HistoryCount: ptr(24), MinCharacterClasses: ptr(4), BlockCommon: ptr(true)}
	p, err := good.apply(base)
	if err != nil {
		t.Fatal(err)
	}
	want := portal.PasswordPolicy{Enabled: true, MinLength: 32, ExpiryInDays: 90, HistoryCount: 24, MinCharacterClasses: 4, BlockCommon: true}
	if p != want {
		t.Errorf("apply = %+v, want %+v", p, want)
	}
	for _, c := range []struct {
		in   PolicyInput
		want string
	}{
		{PolicyInput{MinLength: ptr(7)}, "min_length must be between 8 and 32"},
		{PolicyInput{MinLength: ptr(-8)}, "min_length"},
		{PolicyInput{MinLength: ptr(33)}, "at most 32 characters"},
		{PolicyInput{ExpiryInDays: ptr(-1)}, "expiry_in_days"},
		{PolicyInput{Freshness: ptr(3651)}, "expiry_in_days"},
		{PolicyInput{ExpiryInDays: ptr(10), Freshness: ptr(20)}, "freshness and expiry_in_days"},
		{PolicyInput{HistoryCount: ptr(25)}, "history_count"},
		{PolicyInput{HistoryCount: ptr(-1)}, "history_count"},
		{PolicyInput{MinCharacterClasses: ptr(5)}, "min_character_classes"},
		{PolicyInput{MinCharacterClasses: ptr(-1)}, "min_character_classes"},
	} {
		_, err := c.in.apply(base)
		if portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), c.want) {
			t.Errorf("apply(%+v) = %v, want EINVALID with %q", c.in, err, c.want)
		}
	}
	if p, err := (PolicyInput{ExpiryInDays: ptr(5), Freshness: ptr(5)}).apply(base); err != nil || p.ExpiryInDays != 5 {
		t.Errorf("equal freshness and expiry_in_days: %+v %v", p, err)
	}
}

func TestCombinePolicies(t *testing.T) {
	acme := store.OrgPolicy{OrgID: "a", OrgName: "Acme", Policy: portal.PasswordPolicy{Enabled: true, MinLength: 12, ExpiryInDays: 90, HistoryCount: 3}}
	beta := store.OrgPolicy{OrgID: "b", OrgName: "Beta", Policy: portal.PasswordPolicy{Enabled: true, MinLength: 10, RequiresSpecialChar: true,
		ExpiryInDays: 30, HistoryCount: 2, BlockCommon: true, MinCharacterClasses: 3}}
	off := store.OrgPolicy{OrgID: "c", OrgName: "Gamma", Policy: portal.PasswordPolicy{MinLength: 30, RequiresTwoFactorAuth: true, ExpiryInDays: 1}}
	zero := store.OrgPolicy{OrgID: "d", OrgName: "Delta", Policy: portal.PasswordPolicy{Enabled: true, MinLength: 8, ExpiryInDays: 0}}

	ep := combinePolicies([]store.OrgPolicy{acme, beta, off, zero})
	if ep.MinLength != 12 || ep.MaxLength != 32 || !ep.RequiresSpecialChar || ep.RequiresTwoFactorAuth || ep.ExpiryInDays != 30 ||
		ep.HistoryCount != 3 || !ep.BlockCommon || ep.MinCharacterClasses != 3 {
		t.Errorf("strictest combination = %+v", ep)
	}
	by := map[string]string{}
	for _, r := range ep.Rules {
		by[r.Key] = r.OrgName
	}
	want := map[string]string{RuleMinLength: "Acme", RuleMaxLength: "", RuleSpecialChar: "Beta", RuleClasses: "Beta",
		RuleBlockCommon: "Beta", RuleHistory: "Acme", RuleExpiry: "Beta"}
	if len(by) != len(want) {
		t.Errorf("rules %v, want %v", by, want)
	}
	for k, org := range want {
		if got, ok := by[k]; !ok || got != org {
			t.Errorf("rule %s imposed by %q (present %v), want %q", k, got, ok, org)
		}
	}
	if r, _ := ep.Rule(RuleMinLength); r.Describe() != "at least 12 characters (required by Acme)" {
		t.Errorf("min length rule = %q", r.Describe())
	}

	// No organization, or only disabled policies: the product's own limits.
	for _, orgs := range [][]store.OrgPolicy{nil, {off}} {
		ep := combinePolicies(orgs)
		if ep.MinLength != 8 || ep.MaxLength != 32 || len(ep.Rules) != 2 || ep.ExpiryInDays != 0 {
			t.Errorf("base policy = %+v", ep)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	ep := combinePolicies([]store.OrgPolicy{{OrgName: "Acme", Policy: portal.PasswordPolicy{Enabled: true, MinLength: 12,
		RequiresSpecialChar: true, BlockCommon: true, MinCharacterClasses: 3}}})
	for _, c := range []struct {
		password string
		broken   []string
	}{
		{"Correct-horse-9", nil},
		{"Größe-Ärger-42", nil}, // Unicode letters
		{"Ｍｙ-Ｆｕｌｌｗｉｄｔｈ-９", nil}, // full-width forms, normalised by NFKC
		{"short", []string{RuleMinLength, RuleSpecialChar, RuleClasses}},
		{"Ab1!short", []string{RuleMinLength}},
		{"Abcdefgh12345", []string{RuleSpecialChar}},
		{"abcdefgh!!!!", []string{RuleClasses}},
		{"P030710P$E4O", []string{RuleBlockCommon}}, // in the list, in lower case
		{strings.Repeat("Ab1!", 8) + "x", []string{RuleMaxLength}},
		{"ﬃﬃﬃﬃ-Ab1", nil}, // ligatures: 4 code points become 12 characters
	} {
		_, err := checkPassword(c.password, ep)
		var got []string
		if e, ok := err.(*portal.Error); ok && e.Fields != nil {
			got = e.Fields["broken_rules"].([]string)
		} else if err != nil {
			t.Errorf("%q: %v", c.password, err)
			continue
		}
		if !slices.Equal(got, c.broken) {
			t.Errorf("%q breaks %v, want %v (%v)", c.password, got, c.broken, err)
		}
		if err != nil {
			msg := portal.ErrorMessage(err)
			if !strings.HasPrefix(msg, "password policy not met: ") {
				t.Errorf("%q: message %q", c.password, msg)
			}
			for _, k := range c.broken {
				r, _ := ep.Rule(k)
				if !strings.Contains(msg, r.Describe()) {
					t.Errorf("%q: message %q does not name %q", c.password, msg, r.Describe())
				}
			}
		}
	}
	for _, bad := range []string{"", "\xff\xfe invalid"} {
		if _, err := checkPassword(bad, ep); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCommonPasswords(t *testing.T) {
	if n := len(commonPasswords()); n < 29000 {
		t.Fatalf("%d common passwords loaded, want the 30,000 of zxcvbn", n)
	}
	for _, p := range []string{"password", "PASSWORD", "Qwerty", "1qaz2wsx3edc", "iloveyou"} {
		if !IsCommonPassword(p) {
			t.Errorf("%q is not found common", p)
		}
	}
	for _, p := range []string{"Correct-horse-9", "vN7#qLp2!xZr"} {
		if IsCommonPassword(p) {
			t.Errorf("%q is found common", p)
		}
	}
}

func TestCharacterClasses(t *testing.T) {
	for p, want := range map[string]int{"": 0, "abc": 1, "aB": 2, "aB1": 3, "aB1 ": 4, "Ωω9-": 4, "日本語": 1, "١٢٣": 1} {
		if got := characterClasses(p); got != want {
			t.Errorf("characterClasses(%q) = %d, want %d", p, got, want)
		}
	}
}
