package app

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	// The common-password list is the "passwords" frequency list that
	// zxcvbn 4.4.2 (Dropbox) ships: the 30,000 most frequent passwords of
	// Mark Burnett's corpus of 10 million leaked passwords (Xato), as
	// bundled by the Go port github.com/trustelem/zxcvbn v1.0.1 (MIT).
	"github.com/trustelem/zxcvbn/frequency"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// PolicyInput carries changes to a password policy; nil fields are
// unchanged. Freshness is Mist's older name of ExpiryInDays.
type PolicyInput struct {
	Enabled               *bool
	MinLength             *int
	RequiresSpecialChar   *bool
	RequiresTwoFactorAuth *bool
	ExpiryInDays          *int
	Freshness             *int
	HistoryCount          *int
	BlockCommon           *bool
	MinCharacterClasses   *int
	TwoFactorGraceDays    *int
}

// apply validates in and applies it to a copy of p.
func (in PolicyInput) apply(p portal.PasswordPolicy) (portal.PasswordPolicy, error) {
	if in.Freshness != nil {
		if in.ExpiryInDays != nil && *in.ExpiryInDays != *in.Freshness {
			return p, portal.Errorf(portal.EINVALID, "freshness and expiry_in_days are the same setting and must not differ (got %d and %d)", *in.Freshness, *in.ExpiryInDays)
		}
		in.ExpiryInDays = in.Freshness
	}
	intField := func(name string, v *int, lo, hi int, dst *int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return portal.Errorf(portal.EINVALID, "%s must be between %d and %d (got %d)", name, lo, hi, *v)
		}
		*dst = *v
		return nil
	}
	if err := intField("min_length", in.MinLength, portal.MinPasswordLen, portal.MaxPasswordLen, &p.MinLength); err != nil {
		if *in.MinLength > portal.MaxPasswordLen {
			return p, portal.Errorf(portal.EINVALID, "min_length must be between %d and %d: a password can hold at most %d characters (got %d)",
				portal.MinPasswordLen, portal.MaxPasswordLen, portal.MaxPasswordLen, *in.MinLength)
		}
		return p, err
	}
	if err := intField("expiry_in_days", in.ExpiryInDays, 0, portal.MaxPolicyExpiryDays, &p.ExpiryInDays); err != nil {
		return p, err
	}
	if err := intField("history_count", in.HistoryCount, 0, portal.MaxPolicyHistoryCount, &p.HistoryCount); err != nil {
		return p, err
	}
	if err := intField("min_character_classes", in.MinCharacterClasses, 0, portal.MaxPolicyCharacterClass, &p.MinCharacterClasses); err != nil {
		return p, err
	}
	if err := intField("two_factor_grace_days", in.TwoFactorGraceDays, 0, portal.MaxPolicyTwoFactorGrace, &p.TwoFactorGraceDays); err != nil {
		return p, err
	}
	for _, b := range []struct {
		v   *bool
		dst *bool
	}{{in.Enabled, &p.Enabled}, {in.RequiresSpecialChar, &p.RequiresSpecialChar}, {in.RequiresTwoFactorAuth, &p.RequiresTwoFactorAuth}, {in.BlockCommon, &p.BlockCommon}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	return p, nil
}

// policyFields is what the audit log records of a password policy.
func policyFields(p portal.PasswordPolicy) map[string]any {
	return map[string]any{"enabled": p.Enabled, "min_length": p.MinLength, "requires_special_char": p.RequiresSpecialChar,
		"requires_two_factor_auth": p.RequiresTwoFactorAuth, "expiry_in_days": p.ExpiryInDays, "history_count": p.HistoryCount,
		"block_common": p.BlockCommon, "min_character_classes": p.MinCharacterClasses, "two_factor_grace_days": p.TwoFactorGraceDays}
}

// OrgSetting is the part of an organization's settings Portal keeps.
type OrgSetting struct {
	Org            *portal.Org
	PasswordPolicy portal.PasswordPolicy
}

// GetOrgSetting returns an organization's settings (Super User only: the
// policy tells how its members' passwords are built).
func (s *Service) GetOrgSetting(ctx context.Context, a *Actor, orgID string) (_ *OrgSetting, err error) {
	defer wrap(&err, "GetOrgSetting(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(acc, "see its settings"); err != nil {
		return nil, err
	}
	o, err := s.db.GetOrg(ctx, orgID)
	if err != nil {
		return nil, err
	}
	p, err := s.db.GetOrgPasswordPolicy(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return &OrgSetting{Org: o, PasswordPolicy: p}, nil
}

// UpdatePasswordPolicy changes an organization's password policy (Super
// User only). Every value is checked before anything is written; the audit
// entry holds the policy before and after.
func (s *Service) UpdatePasswordPolicy(ctx context.Context, a *Actor, orgID string, in PolicyInput) (_ *OrgSetting, err error) {
	defer wrap(&err, "UpdatePasswordPolicy(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if err := requireAdmin(acc, "change its settings"); err != nil {
		return nil, err
	}
	if _, err := in.apply(portal.DefaultPasswordPolicy()); err != nil {
		return nil, err // refuse bad values before opening a transaction
	}
	out := &OrgSetting{}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		cur, err := tx.GetOrgPasswordPolicy(ctx, orgID)
		if err != nil {
			return err
		}
		next, err := in.apply(cur)
		if err != nil {
			return err
		}
		now := s.clock()
		if next != cur {
			if err := tx.SetOrgPasswordPolicy(ctx, orgID, next, now); err != nil {
				return err
			}
			// Two-factor enforcement: when the requirement begins (twofactor.go).
			if err := noteTwoFactorRequirement(ctx, tx, orgID, cur, next, now); err != nil {
				return err
			}
		}
		if out.Org, err = tx.GetOrg(ctx, orgID); err != nil {
			return err
		}
		out.PasswordPolicy = next
		if next == cur {
			return nil
		}
		before, after := changed(policyFields(cur), policyFields(next))
		return w.audit(ctx, a.User, a.IP, orgID, "", "Updated password policy of "+out.Org.Name, before, after)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Rule keys, as in the policy's JSON fields.
const (
	RuleMinLength    = "min_length"
	RuleMaxLength    = "max_length"
	RuleSpecialChar  = "requires_special_char"
	RuleClasses      = "min_character_classes"
	RuleBlockCommon  = "block_common"
	RuleHistory      = "history_count"
	RuleExpiry       = "expiry_in_days"
	RuleTwoFactor    = "requires_two_factor_auth"
	maxHistoryChecks = portal.MaxPolicyHistoryCount
)

// PasswordRule is one rule a user's new password must follow, with the
// organization that imposes it (none for the product's own limits).
type PasswordRule struct {
	Key     string
	Value   int    // the length, count or days; 1 for a yes/no rule; for block_common the minimum guesses as a power of ten
	Text    string // "at least 12 characters"
	OrgID   string // "" for Portal's own rule
	OrgName string
	Reason  string // in a refusal, why the password breaks the rule: "it is a common password"
}

// Describe is the rule with who imposes it: "at least 12 characters
// (required by Acme)".
func (r PasswordRule) Describe() string {
	if r.OrgName == "" {
		return r.Text
	}
	return r.Text + " (required by " + r.OrgName + ")"
}

// describeBroken is the rule as a refusal names it: with why the password
// breaks it, when that is known ("not a common or easily guessed password
// (it is a common password with digits added)").
func (r PasswordRule) describeBroken() string {
	switch {
	case r.Reason == "":
		return r.Describe()
	case r.OrgName == "":
		return r.Text + " (" + r.Reason + ")"
	}
	return r.Text + " (required by " + r.OrgName + "; " + r.Reason + ")"
}

// EffectivePolicy is the strictest combination of the enabled policies of
// every organization a user belongs to: the longest minimum length, every
// requirement any of them sets, the shortest non-zero expiry, the longest
// history. Rules lists what applies, in the order shown to the user.
//
// Common and easily guessed passwords are refused for everyone (the rule
// block_common is always in Rules, MinGuesses baseMinGuesses, see
// guessable.go); BlockCommon is set when an organization's policy asks
// for it, which raises MinGuesses to strictMinGuesses.
type EffectivePolicy struct {
	MinLength             int
	MaxLength             int
	RequiresSpecialChar   bool
	RequiresTwoFactorAuth bool
	ExpiryInDays          int
	HistoryCount          int
	BlockCommon           bool
	MinGuesses            float64 // zxcvbn's estimate a new password must reach
	MinCharacterClasses   int
	Rules                 []PasswordRule
	// OrgNames are the names of the organizations, whatever their
	// policies: a new password must not contain them (personal.go).
	OrgNames []string
}

// Rule returns the rule with the key, if it applies.
func (p *EffectivePolicy) Rule(key string) (PasswordRule, bool) {
	for _, r := range p.Rules {
		if r.Key == key {
			return r, true
		}
	}
	return PasswordRule{}, false
}

// combinePolicies computes the effective policy of the organizations'
// policies (in the order given, which decides who imposes a rule that
// several organizations set alike: the first).
func combinePolicies(orgs []store.OrgPolicy) *EffectivePolicy {
	ep := &EffectivePolicy{MinLength: portal.MinPasswordLen, MaxLength: portal.MaxPasswordLen}
	var by = map[string]store.OrgPolicy{}
	stricter := func(key string, better bool, op store.OrgPolicy) {
		if better {
			by[key] = op
		}
	}
	for _, op := range orgs {
		ep.OrgNames = append(ep.OrgNames, op.OrgName)
		p := op.Policy
		if !p.Enabled {
			continue
		}
		stricter(RuleMinLength, p.MinLength > ep.MinLength, op)
		ep.MinLength = max(ep.MinLength, min(p.MinLength, portal.MaxPasswordLen))
		stricter(RuleSpecialChar, p.RequiresSpecialChar && !ep.RequiresSpecialChar, op)
		ep.RequiresSpecialChar = ep.RequiresSpecialChar || p.RequiresSpecialChar
		stricter(RuleTwoFactor, p.RequiresTwoFactorAuth && !ep.RequiresTwoFactorAuth, op)
		ep.RequiresTwoFactorAuth = ep.RequiresTwoFactorAuth || p.RequiresTwoFactorAuth
		if p.ExpiryInDays > 0 && (ep.ExpiryInDays == 0 || p.ExpiryInDays < ep.ExpiryInDays) {
			ep.ExpiryInDays = p.ExpiryInDays
			by[RuleExpiry] = op
		}
		stricter(RuleHistory, p.HistoryCount > ep.HistoryCount, op)
		ep.HistoryCount = max(ep.HistoryCount, min(p.HistoryCount, maxHistoryChecks))
		stricter(RuleBlockCommon, p.BlockCommon && !ep.BlockCommon, op)
		ep.BlockCommon = ep.BlockCommon || p.BlockCommon
		stricter(RuleClasses, p.MinCharacterClasses > ep.MinCharacterClasses, op)
		ep.MinCharacterClasses = max(ep.MinCharacterClasses, min(p.MinCharacterClasses, portal.MaxPolicyCharacterClass))
	}
	add := func(key string, value int, text string) {
		op := by[key]
		ep.Rules = append(ep.Rules, PasswordRule{Key: key, Value: value, Text: text, OrgID: op.OrgID, OrgName: op.OrgName})
	}
	add(RuleMinLength, ep.MinLength, fmt.Sprintf("at least %d characters", ep.MinLength))
	add(RuleMaxLength, ep.MaxLength, fmt.Sprintf("at most %d characters", ep.MaxLength))
	if ep.RequiresSpecialChar {
		add(RuleSpecialChar, 1, "a special character (neither a letter nor a digit)")
	}
	if ep.MinCharacterClasses > 1 {
		add(RuleClasses, ep.MinCharacterClasses, fmt.Sprintf("at least %d kinds of characters (lower case, upper case, digits, special characters)", ep.MinCharacterClasses))
	}
	// Portal's own rule, stricter with an organization's block_common.
	ep.MinGuesses = baseMinGuesses
	text := "not a common or easily guessed password"
	if ep.BlockCommon {
		ep.MinGuesses = strictMinGuesses
		text += ", by a stricter measure: several words, or at least 10 characters without a pattern"
	}
	add(RuleBlockCommon, int(math.Round(math.Log10(ep.MinGuesses))), text)
	if ep.HistoryCount > 0 {
		text := "not your current password"
		if ep.HistoryCount > 1 {
			text = fmt.Sprintf("not one of your last %d passwords", ep.HistoryCount)
		}
		add(RuleHistory, ep.HistoryCount, text)
	}
	if ep.ExpiryInDays > 0 {
		add(RuleExpiry, ep.ExpiryInDays, fmt.Sprintf("expires after %d days", ep.ExpiryInDays))
	}
	if ep.RequiresTwoFactorAuth {
		add(RuleTwoFactor, 1, "two-factor authentication")
	}
	return ep
}

// basePolicy is what applies to someone in no organization (sign-up).
func basePolicy() *EffectivePolicy { return combinePolicies(nil) }

// PasswordPolicyFor returns the effective password policy of a user.
func (s *Service) PasswordPolicyFor(ctx context.Context, userID string) (_ *EffectivePolicy, err error) {
	defer wrap(&err, "PasswordPolicyFor(%s)", userID)
	orgs, err := s.db.UserPasswordPolicies(ctx, userID)
	if err != nil {
		return nil, err
	}
	return combinePolicies(orgs), nil
}

// commonPasswords is the bundled list, lower-cased, loaded on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.FrequencyLists["passwords"]
	m := make(map[string]struct{}, len(list))
	for _, p := range list {
		m[strings.ToLower(p)] = struct{}{}
	}
	return m
})

// IsCommonPassword reports whether p (normalised) is in the bundled list
// of common passwords, compared case-insensitively. Every new password is
// checked against it (guessable), whatever zxcvbn's score.
func IsCommonPassword(p string) bool {
	_, ok := commonPasswords()[strings.ToLower(p)]
	return ok
}

// characterClasses counts the kinds of characters in p: lower case (and
// letters without case), upper case, digits, and the rest.
func characterClasses(p string) int {
	var lower, upper, digit, special bool
	for _, r := range p {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLetter(r):
			lower = true
		case unicode.IsDigit(r) || unicode.IsNumber(r):
			digit = true
		default:
			special = true
		}
	}
	n := 0
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			n++
		}
	}
	return n
}

func hasSpecialChar(p string) bool {
	for _, r := range p {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// checkPassword normalises p (NFKC) and checks it against every rule of
// the policy that can be checked without the user's previous passwords;
// pd is the user's data, which a password must not contain and which
// makes one easy to guess (nil: none known). The refusal names every
// broken rule, Mist-like: {"detail": "password policy not met: …",
// "min_length": 12, "errors": […]}.
func checkPassword(ctx context.Context, p string, ep *EffectivePolicy, pd *personalData) (string, error) {
	normal, broken, err := brokenRules(ctx, p, ep, pd)
	if err != nil {
		return "", err
	}
	if len(broken) > 0 {
		return "", policyError(ep, broken)
	}
	return normal, nil
}

// brokenRules returns p normalised and the rules of ep it breaks (not the
// history, which needs the user's hashes), each with its Reason when there
// is more to say. An empty or invalid password is an error of its own.
// pd is the user's data (personal.go), nil when none is known.
func brokenRules(ctx context.Context, p string, ep *EffectivePolicy, pd *personalData) (string, []PasswordRule, error) {
	if p == "" {
		return "", nil, portal.Errorf(portal.EINVALID, "password is required")
	}
	if !utf8.ValidString(p) {
		return "", nil, portal.Errorf(portal.EINVALID, "password is not valid UTF-8")
	}
	p = authn.NormalizePassword(p)
	n := utf8.RuneCountInString(p)
	var broken []PasswordRule
	for _, r := range ep.Rules {
		ok := true
		switch r.Key {
		case RuleMinLength:
			ok = n >= r.Value
		case RuleMaxLength:
			ok = n <= r.Value
		case RuleSpecialChar:
			ok = hasSpecialChar(p)
		case RuleClasses:
			ok = characterClasses(p) >= r.Value
		case RuleBlockCommon:
			// The user's own data first (personal.go). Outside the
			// product's length limits the length rules refuse the
			// password already; this also keeps zxcvbn's work bounded
			// (at most 32 characters, 128 bytes).
			if r.Reason = containedReason(p, pd, ep.OrgNames); r.Reason != "" {
				ok = false
			} else if n >= portal.MinPasswordLen && n <= portal.MaxPasswordLen && len(p) <= 4*portal.MaxPasswordLen {
				var err error
				if _, r.Reason, err = guessable(ctx, p, pd.inputs(), ep.MinGuesses); err != nil {
					return "", nil, err
				}
				ok = r.Reason == ""
			}
		}
		if !ok {
			broken = append(broken, r)
		}
	}
	return p, broken, nil
}

// policyError is the refusal of a password that breaks rules.
func policyError(ep *EffectivePolicy, broken []PasswordRule) error {
	texts := make([]string, len(broken))
	keys := make([]string, len(broken))
	for i, r := range broken {
		texts[i], keys[i] = r.describeBroken(), r.Key
	}
	return &portal.Error{Code: portal.EINVALID, Message: "password policy not met: " + strings.Join(texts, "; "),
		Fields: map[string]any{
			"min_length": ep.MinLength, "max_length": ep.MaxLength, "requires_special_char": ep.RequiresSpecialChar,
			"min_character_classes": ep.MinCharacterClasses, "block_common": ep.BlockCommon, "min_guesses": ep.MinGuesses, "history_count": ep.HistoryCount,
			"errors": texts, "broken_rules": keys,
		}}
}
