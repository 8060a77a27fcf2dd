package app

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"portal"
	"portal/internal/store"
)

// cleanEmail trims and checks an e-mail address and returns its one
// normalised form, which is what is stored, compared and mailed: NFKC, then
// lower case (strings.ToLower), so "Ann@Example.COM" is "ann@example.com"
// and a full-width domain is the plain one (as IDNA maps it). It refuses,
// so that no two different mailboxes share a normalised form and no
// address can pass for another:
//
//   - an address holding a character outside ASCII whose lower case, upper
//     case or case folding is an ASCII letter: U+212A KELVIN SIGN (k),
//     U+0130 (İ, i), U+0131 (ı, I) and U+017F (ſ, s), the only four; in
//     the local part or the domain;
//   - an address whose local part (before the last @) NFKC changes: a
//     ligature, a full-width or other compatibility character, a
//     decomposed accent. The receiving server decides what its local parts
//     mean, so Portal does not rewrite them beyond case.
//
// Addresses with other characters outside ASCII (Jürgen@straße.de) are
// accepted, lower-cased.
func cleanEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", portal.Errorf(portal.EINVALID, "email is required")
	}
	if len(s) > portal.MaxEmailLen {
		return "", portal.Errorf(portal.EINVALID, "email must be at most %d characters", portal.MaxEmailLen)
	}
	if !utf8.ValidString(s) {
		return "", portal.Errorf(portal.EINVALID, "email is not valid UTF-8")
	}
	if err := checkASCIILookalikes(s); err != nil {
		return "", err
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return "", portal.Errorf(portal.EINVALID, "email %q is not a valid email address", s)
	}
	if local := s[:at]; !norm.NFKC.IsNormalString(local) {
		return "", portal.Errorf(portal.EINVALID, "email %q: the part before @ holds characters that Unicode normalisation (NFKC) changes, such as a ligature, a full-width letter or a separate accent; type it with ordinary characters", s)
	}
	s = strings.ToLower(norm.NFKC.String(s))
	if err := checkASCIILookalikes(s); err != nil {
		return "", err
	}
	if len(s) > portal.MaxEmailLen {
		return "", portal.Errorf(portal.EINVALID, "email must be at most %d characters", portal.MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", portal.Errorf(portal.EINVALID, "email %q is not a valid email address", s)
	}
	return s, nil
}

// checkASCIILookalikes refuses an address holding a character outside
// ASCII that is a case variant of an ASCII letter (see cleanEmail).
func checkASCIILookalikes(s string) error {
	for _, r := range s {
		if r < utf8.RuneSelf {
			continue
		}
		if l := asciiCaseOf(r); l != 0 {
			return portal.Errorf(portal.EINVALID, "email must not contain %q (%U), a look-alike of the letter %q that would let the address pass for another one; type it with plain letters", r, r, l)
		}
	}
	return nil
}

// asciiCaseOf is the ASCII letter that r (outside ASCII) is a case variant
// of (by lower or upper case, or case folding), or 0.
func asciiCaseOf(r rune) rune {
	for _, c := range []rune{unicode.ToLower(r), unicode.ToUpper(r)} {
		if c < utf8.RuneSelf {
			return unicode.ToLower(c)
		}
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
	}
	return 0
}

// sameEmail reports whether two stored or cleaned addresses are the same
// account's, comparing them as the store does (store.EmailKey: a
// character outside ASCII never equals an ASCII one).
func sameEmail(a, b string) bool { return store.EmailKey(a) == store.EmailKey(b) }

// invalidField is the refusal of a field's value: EINVALID with the
// message, naming the field (its API name) in Fields["field"], which the
// GUI uses to mark the field in error.
func invalidField(field, format string, args ...any) *portal.Error {
	e := portal.Errorf(portal.EINVALID, format, args...)
	e.Fields = map[string]any{"field": field}
	return e
}

// cleanName trims a name and checks it is not too long, has no control
// characters, text-direction controls (isBidiControl) or line and
// paragraph separators (U+2028, U+2029) and, when required, is not empty.
func cleanName(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" && required {
		return "", invalidField(field, "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return "", invalidField(field, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", invalidField(field, "%s must be at most %d characters (got %d)", field, max, n)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", invalidField(field, "%s must not contain control characters", field)
		case isBidiControl(r):
			return "", invalidField(field, "%s must not contain invisible text-direction characters (%U), which can make the text around it read differently", field, r)
		case r == '\u2028' || r == '\u2029':
			return "", invalidField(field, "%s must not contain line or paragraph separators (%U)", field, r)
		}
	}
	return s, nil
}

// isBidiControl reports whether r is one of the invisible characters that
// change the direction of the text around them: the embeddings and
// overrides U+202A–U+202E, the isolates U+2066–U+2069, and the marks
// U+200E, U+200F and U+061C.
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// checkNewPassword applies the base rules for a new password, for someone
// in no organization yet (sign-up) with these names and e-mail address,
// and orgs, the organization the sign-up creates; see checkPassword for
// the policy.
func checkNewPassword(ctx context.Context, p, first, last, email string, orgs ...string) (string, error) {
	return checkPassword(ctx, p, basePolicy(), &personalData{first: first, last: last, email: email, orgs: orgs})
}

func checkTimezone(tz string) (string, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return "", nil
	}
	if len(tz) > 64 {
		return "", invalidField("timezone", "timezone is too long")
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		return "", invalidField("timezone", "timezone %q is not a known IANA time zone (e.g. Europe/Paris)", tz)
	}
	return tz, nil
}

func checkCountry(cc string) (string, error) {
	cc = strings.ToUpper(strings.TrimSpace(cc))
	if cc == "" {
		return "", nil
	}
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		return "", portal.Errorf(portal.EINVALID, "country_code must be a two-letter code such as US")
	}
	return cc, nil
}

// CheckPage applies the defaults and limits of Mist pagination.
func CheckPage(p portal.Page) (portal.Page, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Page == 0 {
		p.Page = 1
	}
	if p.Limit < 1 || p.Limit > portal.MaxPageLimit {
		return p, portal.Errorf(portal.EINVALID, "limit must be between 1 and %d", portal.MaxPageLimit)
	}
	if p.Page < 1 || p.Page > 1_000_000 {
		return p, portal.Errorf(portal.EINVALID, "page must be a positive number")
	}
	return p, nil
}
