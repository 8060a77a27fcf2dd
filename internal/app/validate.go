package app

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portal"
)

// cleanEmail trims and checks an e-mail address.
func cleanEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", portal.Errorf(portal.EINVALID, "email is required")
	}
	if len(s) > portal.MaxEmailLen {
		return "", portal.Errorf(portal.EINVALID, "email must be at most %d characters", portal.MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", portal.Errorf(portal.EINVALID, "email %q is not a valid e-mail address", s)
	}
	return s, nil
}

// cleanName trims a name and checks it is not too long, has no control
// characters and, when required, is not empty.
func cleanName(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" && required {
		return "", portal.Errorf(portal.EINVALID, "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return "", portal.Errorf(portal.EINVALID, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", portal.Errorf(portal.EINVALID, "%s must be at most %d characters (got %d)", field, max, n)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", portal.Errorf(portal.EINVALID, "%s must not contain control characters", field)
		}
	}
	return s, nil
}

// checkNewPassword applies the base rules for a new password, for someone
// in no organization yet (sign-up); see checkPassword for the policy.
func checkNewPassword(p string) (string, error) {
	return checkPassword(p, basePolicy())
}

func checkTimezone(tz string) (string, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return "", nil
	}
	if len(tz) > 64 {
		return "", portal.Errorf(portal.EINVALID, "timezone is too long")
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		return "", portal.Errorf(portal.EINVALID, "timezone %q is not a known IANA time zone (e.g. Europe/Paris)", tz)
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
