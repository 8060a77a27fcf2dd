package portal

import "unicode/utf8"

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence
// (for what is stored or logged with a size limit: a user agent, a mail
// error).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
