package app

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"portal"
	"portal/internal/authn"
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

	if r, _ := ep.Rule(RuleBlockCommon); r.Value != 10 || ep.MinGuesses != strictMinGuesses ||
		r.Describe() != "not a common or easily guessed password, by a stricter measure: several words, or at least 10 characters without a pattern (required by Beta)" {
		t.Errorf("block_common rule = %+v (%q), min guesses %g", r, r.Describe(), ep.MinGuesses)
	}

	// No organization, or only disabled policies: the product's own limits,
	// common and easily guessed passwords refused.
	for _, orgs := range [][]store.OrgPolicy{nil, {off}} {
		ep := combinePolicies(orgs)
		if ep.MinLength != 8 || ep.MaxLength != 32 || len(ep.Rules) != 3 || ep.ExpiryInDays != 0 || ep.BlockCommon || ep.MinGuesses != 1e8 {
			t.Errorf("base policy = %+v", ep)
		}
		if r, ok := ep.Rule(RuleBlockCommon); !ok || r.Value != 8 || r.OrgName != "" || r.Describe() != "not a common or easily guessed password" {
			t.Errorf("base block_common rule = %+v", r)
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
		{"Größe-Ärger-42", nil},                                          // Unicode letters
		{"Ｍｙ-Ｆｕｌｌｗｉｄｔｈ-９", nil},                                          // full-width forms, normalised by NFKC
		{"short", []string{RuleMinLength, RuleSpecialChar, RuleClasses}}, // under 8: not scored
		{"Xq7!vbz9Kpw", []string{RuleMinLength}},
		{"Ab1!short", []string{RuleMinLength, RuleBlockCommon}},
		{"Qvrm7Ktzw4Hb", []string{RuleSpecialChar}},
		{"Abcdefgh12345", []string{RuleSpecialChar, RuleBlockCommon}}, // a sequence
		{"qvrm!ktzw?hbx", []string{RuleClasses}},
		{"abcdefgh!!!!", []string{RuleClasses, RuleBlockCommon}},
		{"P030710P$E4O", []string{RuleBlockCommon}},                // in the list, in lower case
		{strings.Repeat("Ab1!", 8) + "x", []string{RuleMaxLength}}, // over 32: not scored
		{"ﬁshﬂyﬃx-42", nil},                                        // ligatures: 10 code points become 14 characters
		{"ﬃﬃﬃﬃ-Ab1", []string{RuleBlockCommon}},                    // ffiffiffiffi-Ab1 repeats
	} {
		_, err := checkPassword(context.Background(), c.password, ep, nil)
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
				if !strings.Contains(msg, r.Text) || !strings.Contains(msg, "required by "+r.OrgName) && r.OrgName != "" {
					t.Errorf("%q: message %q does not name %q", c.password, msg, r.Describe())
				}
			}
		}
	}
	for _, bad := range []string{"", "\xff\xfe invalid"} {
		if _, err := checkPassword(context.Background(), bad, ep, nil); portal.ErrorCode(err) != portal.EINVALID {
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

// TestGuessablePasswords: the baseline, which applies to everyone (sign-up
// included, with or without organizations), refuses common and easily
// guessed passwords and says why; passphrases and random strings pass.
// The user is Ann Smith <ann.smith@example.com>. Run with -v for zxcvbn's
// estimates (guesses as powers of ten).
func TestGuessablePasswords(t *testing.T) {
	ctx := context.Background()
	const first, last, email = "Ann", "Smith", "ann.smith@example.com"
	const rule = "not a common or easily guessed password"
	inputs := passwordInputs(first, last, email)
	for _, c := range []struct{ password, reason string }{
		{"password1", "it is a common password"},
		{"Password1234!", "it is a common password with a digit and a symbol added"},
		{"Qwerty123456!", "it is a common password with a symbol added"},
		{"qwertyuiop", "it is a common password"},
		{"P@ssw0rd2024", "it is a common password, spelled with look-alike characters (such as @ for a or 0 for o), with a year added"},
		{"aaaaaaaaaa", "it repeats the same characters"},
		{"12345678abc", "it is a common password with a sequence added"},
		{"ann.smith1990", "it contains the part of your email address before the @"},
		{"AnnSmith!2026", "it contains your first name"},
		{"Welcome2024!", "it is a common password with a year and a symbol added"},
		{"bobs password", "it is a common password with letters and a space added"},
		{"asdfghjkl;", "it is a keyboard pattern"},
		{"abcdefgh!!!!", "it is a sequence with symbols added"},
		{"drowssap123", "it is a common password, reversed, with digits added"},
		{"12/05/1990x", "it is a date with a letter added"},
		{"Smith-Ann-77", "it contains your first name"}, // zxcvbn: 10⁹, but mostly the name
		{"ANN.SMITH@EXAMPLE.COM", "it contains your email address"},
		{"AnnSmithRocksTheKitchen", "it contains your first name"}, // the name in a small part of a strong password (ASVS 6.2.11)
		{"xSMITHx-horse-battery", "it contains your last name"},
		{"Portal-horse-battery", `it contains the word "portal"`},
		{"P030710P$E4O", "it is a common password"}, // in zxcvbn's list, whatever the score
	} {
		g, _, _ := guessable(ctx, authn.NormalizePassword(c.password), inputs, baseMinGuesses)
		t.Logf("refused %-24q %5.2f", c.password, math.Log10(g))
		_, err := checkNewPassword(ctx, c.password, first, last, email)
		e, ok := err.(*portal.Error)
		if !ok || e.Code != portal.EINVALID || e.Fields == nil {
			t.Errorf("%q: %v, want a policy refusal", c.password, err)
			continue
		}
		want := rule + " (" + c.reason + ")"
		if e.Message != "password policy not met: "+want || !slices.Equal(e.Fields["errors"].([]string), []string{want}) ||
			!slices.Equal(e.Fields["broken_rules"].([]string), []string{RuleBlockCommon}) || e.Fields["min_guesses"] != 1e8 {
			t.Errorf("%q: %q %v, want %q", c.password, e.Message, e.Fields, want)
		}
	}
	for _, p := range []string{
		"correct horse 1", "correct horse battery", "correct horse 2fa!", "first password 1",
		"sessions in a browser", "tokens in a browser",
		"vN7#qLp2!xZr", "vN7#qLp2", "Xq7!vbz9Kpw", "Größe-Ärger-42", // random characters, 8 of them at least
	} {
		g, _, _ := guessable(ctx, authn.NormalizePassword(p), inputs, baseMinGuesses)
		t.Logf("accepted %-24q %5.2f", p, math.Log10(g))
		if _, err := checkNewPassword(ctx, p, first, last, email); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
	// The name counts for its owner only.
	if _, err := checkNewPassword(ctx, "Smith-Ann-77", "Bob", "Jones", "bob@example.com"); err != nil {
		t.Errorf("Smith-Ann-77 for Bob Jones: %v", err)
	}
}

// TestGuessableStricter: an organization's block_common raises the bar
// from 10⁸ to 10¹⁰ guesses: several words, or 10 characters without a
// pattern; the refusal names who requires it and why.
func TestGuessableStricter(t *testing.T) {
	ctx := context.Background()
	ep := combinePolicies([]store.OrgPolicy{{OrgID: "a", OrgName: "Acme", Policy: portal.PasswordPolicy{Enabled: true, MinLength: 8, BlockCommon: true}}})
	inputs := &personalData{first: "Ann", last: "Smith", email: "ann.smith@example.com"}
	const rule = "not a common or easily guessed password, by a stricter measure: several words, or at least 10 characters without a pattern (required by Acme; "
	for p, reason := range map[string]string{
		"vN7#qLp2":      "it is too short for a password of random characters: make it longer, or use several words",
		"Summer1999!!":  "it is a common password with a year and symbols added", // 10⁸ by zxcvbn: enough for the baseline
		"Ab1!short":     "it is a common word with letters, a digit and a symbol added",
		"Password1234!": "it is a common password with a digit and a symbol added",
	} {
		_, err := checkPassword(ctx, p, ep, inputs)
		if msg := portal.ErrorMessage(err); msg != "password policy not met: "+rule+reason+")" {
			t.Errorf("%q: %q", p, msg)
		}
	}
	for _, p := range []string{"first password 1", "correct horse 1", "Xq7!vbz9Kp", "tokens in a browser"} {
		if _, err := checkPassword(ctx, p, ep, inputs); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
	if _, err := checkNewPassword(ctx, "Summer1999!!", "Ann", "Smith", "ann.smith@example.com"); err != nil {
		t.Errorf("Summer1999!! under the baseline: %v", err)
	}
	// A cancelled request waiting for zxcvbn gets its error, not a verdict.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := checkPassword(cancelled, "first password 1", ep, inputs); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

func TestPasswordInputs(t *testing.T) {
	in := passwordInputs(" Ann ", "Smith-Jones", "ann.smith@mail.example.com", "Anna")
	for _, w := range []string{"ann", "smith-jones", "smith", "jones", "annsmithjones", "smithjonesann", "anna",
		"ann.smith@mail.example.com", "ann.smith", "mail", "example", "2020", "2026", "2099"} {
		if !slices.Contains(in, w) {
			t.Errorf("inputs %q lack %q", in, w)
		}
	}
	for _, w := range []string{"com", "an", "", "2019", "2100"} {
		if slices.Contains(in, w) {
			t.Errorf("inputs %q hold %q", in, w)
		}
	}
}

// BenchmarkCheckPassword: the whole check of a new password of 32
// characters (zxcvbn's estimate is most of it), and of the most costly
// inputs measured: 32 characters crafted for the look-alike matching, and
// 32 four-byte characters (128 bytes, the most that reaches zxcvbn).
func BenchmarkCheckPassword(b *testing.B) {
	ctx := context.Background()
	ep := basePolicy()
	inputs := &personalData{first: "Ann", last: "Smith", email: "ann.smith@example.com"}
	for _, c := range []struct{ name, password string }{
		{"32chars", "correct-horse-battery-staple-42!"},
		{"32random", "vN7#qLp2!xZr8@Kw3$Tm9^Hy4&Bd6*Jf"},
		{"32lookalike", "4@8({[<3691!|7$5+%24@8({[<3691!|"},
		{"32emoji", strings.Repeat("😀🔥", 16)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := checkPassword(ctx, c.password, ep, inputs); err != nil && portal.ErrorCode(err) != portal.EINVALID {
					b.Fatal(err)
				}
			}
		})
	}
}
