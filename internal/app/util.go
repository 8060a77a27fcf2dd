package app

import (
	"strings"
	"unicode/utf8"
)

func lower(s string) string { return strings.ToLower(s) }

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
