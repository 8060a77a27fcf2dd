package app

import (
	"context"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"

	"portal"
	"portal/internal/authn"
)

// Easily guessed passwords (ASVS 5.0 6.2.4 and 6.2.12). Every new password
// is scored by zxcvbn (Dropbox's estimator, Go port
// github.com/trustelem/zxcvbn), which finds the patterns an attacker
// tries first: common passwords, words and names from its frequency lists
// (with capitals, reversed or with look-alike characters such as @ for a),
// keyboard walks, sequences, repeats, dates and years, and the user's own
// name and e-mail address, and estimates the guesses needed. zxcvbn counts
// a character outside any pattern as 10 guesses, so 8 characters without
// a pattern are 10⁸ guesses.
//
// The thresholds were chosen by measuring (guesses in powers of ten, for
// the user Ann Smith <ann.smith@example.com>): password1 2.3,
// qwertyuiop 1.4, aaaaaaaaaa 2.1, 12345678abc 4.2, ann.smith1990 4.2,
// P@ssw0rd2024 4.2, Qwerty123456! 5.0, Password1234! 5.4, AnnSmith!2026
// 7.3, Welcome2024! 7.7 are below 8 and refused; 8 random characters are
// 8.0, first password 1 10.5, correct horse 1 11.4, correct horse 2fa!
// 13.3, correct horse battery 14.2, sessions in a browser 13.9, tokens in
// a browser 14.6 (bobs password, 7.0, is refused). TestGuessablePasswords
// -v prints them.
const (
	// baseMinGuesses applies to everyone: no easier to guess than 8
	// characters without any pattern.
	baseMinGuesses = 1e8
	// strictMinGuesses applies with an organization's block_common: a
	// passphrase of several words, or 10 characters without a pattern.
	strictMinGuesses = 1e10
)

// firstUnlistedYear is the first year zxcvbn 4.4.2 does not know as a
// recent year (its pattern ends at 2019): the years from it to 2099 are
// given to zxcvbn as user inputs, so that P@ssw0rd2024 counts 2024 as a
// year (zxcvbn alone sees a walk on the numeric keypad, 6.5 times the
// guesses).
const firstUnlistedYear = 2020

// passwordInputs returns what someone who knows the user would try first:
// the first and last names, the e-mail address, its local part and the
// words of both, the names joined (annsmith, smithann), and the years
// zxcvbn does not know (2020–2099). Pieces shorter than 3 characters are
// left out: they would count too many passwords as containing a name.
// more are further names (a name changed with the password).
func passwordInputs(first, last, email string, more ...string) []string {
	var inputs []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.ToLower(authn.NormalizePassword(strings.TrimSpace(s)))
		if utf8.RuneCountInString(s) < 3 || seen[s] || len(s) > portal.MaxEmailLen {
			return
		}
		seen[s] = true
		inputs = append(inputs, s)
	}
	words := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	}
	names := append([]string{first, last}, more...)
	for _, n := range names {
		add(n)
	}
	add(strings.Join(words(first+" "+last), ""))
	add(strings.Join(words(last+" "+first), ""))
	for _, n := range names {
		for _, w := range words(n) {
			add(w)
		}
	}
	if email != "" {
		add(email)
		local, domain, _ := strings.Cut(email, "@")
		add(local)
		for _, w := range words(local) {
			add(w)
		}
		if labels := strings.Split(domain, "."); len(labels) > 1 {
			for _, l := range labels[:len(labels)-1] { // not the top-level domain
				add(l)
			}
		}
	}
	for y := firstUnlistedYear; y <= 2099; y++ {
		add(strconv.Itoa(y))
	}
	return inputs
}

// guessSlots caps the zxcvbn estimates running at once to half the
// processors. An estimate of 32 characters takes 1 to 3 ms, but about
// 16 ms for 32 characters crafted for its look-alike matching
// (4@8({[<3691!|7$5+%2…; BenchmarkCheckPassword, on an AMD EPYC core),
// and sign-up checks the password before its per-address limit: a flood
// of sign-ups must leave processors to the other requests.
var guessSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// guessable scores p (normalised, at most MaxPasswordLen characters) with
// zxcvbn and returns the estimated guesses and, when they are fewer than
// minGuesses, what makes p easy to guess in plain words ("it is a common
// password with digits added"). A password of zxcvbn's list of common
// passwords is refused in any case, whatever its score. The error is
// ctx's, when it ends while waiting for a slot.
func guessable(ctx context.Context, p string, inputs []string, minGuesses float64) (float64, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	select {
	case guessSlots <- struct{}{}:
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
	r := zxcvbn.PasswordStrength(p, inputs)
	<-guessSlots
	switch {
	case IsCommonPassword(p):
		return r.Guesses, "it is a common password", nil
	case mostlyName(p, inputs):
		return r.Guesses, nameReason, nil
	case r.Guesses >= minGuesses:
		return r.Guesses, "", nil
	}
	return r.Guesses, guessReason(r.Sequence, inputs), nil
}

const nameReason = "it contains your name or email address"

// mostlyName reports whether the user's names and e-mail address (the
// inputs but the years) make up half of p or more, in any case and
// order: zxcvbn counts a name after another one as random characters
// (Smith-Ann-77), but someone who knows the user tries it early.
func mostlyName(p string, inputs []string) bool {
	lower := strings.ToLower(p)
	covered := make([]bool, len(lower))
	for _, in := range inputs {
		if isUnlistedYear(in) {
			continue
		}
		for i := 0; i < len(lower); {
			k := strings.Index(lower[i:], in)
			if k < 0 {
				break
			}
			for j := i + k; j < i+k+len(in); j++ {
				covered[j] = true
			}
			i += k + 1
		}
	}
	n := 0
	for _, c := range covered {
		if c {
			n++
		}
	}
	return n > 0 && 2*n >= len(lower)
}

// yearIn finds a year from 1900 to 2099 among other characters.
var yearIn = regexp.MustCompile(`(?:^|[^0-9])(?:19|20)[0-9]{2}(?:[^0-9]|$)`)

// isUnlistedYear reports whether w is one of the years passwordInputs adds.
func isUnlistedYear(w string) bool {
	y, err := strconv.Atoi(w)
	return err == nil && len(w) == 4 && y >= firstUnlistedYear && y <= 2099
}

// isName reports whether m is the user's name or e-mail address: a match
// of the user inputs, or of another list (Smith is a common surname) with
// a word that is one of them.
func isName(m *match.Match, inputs []string) bool {
	if m.Pattern != "dictionary" || isUnlistedYear(m.MatchedWord) {
		return false
	}
	return m.DictionaryName == "user_inputs" || slices.Contains(inputs, m.MatchedWord)
}

// patternName names the pattern of a zxcvbn match ("a keyboard pattern").
func patternName(m *match.Match) string {
	switch m.Pattern {
	case "dictionary":
		switch m.DictionaryName {
		case "user_inputs":
			if isUnlistedYear(m.MatchedWord) {
				return "a year"
			}
			return "your name or email address"
		case "passwords":
			return "a common password"
		case "male_names", "female_names", "surnames":
			return "a common name"
		default: // english_wikipedia, us_tv_and_film
			return "a common word"
		}
	case "spatial":
		return "a keyboard pattern"
	case "sequence":
		return "a sequence"
	case "repeat":
		return "repeated characters"
	case "regex":
		return "a year" // zxcvbn's only pattern: recent_year
	case "date":
		return "a date"
	}
	return "characters"
}

// addedNames names what a match adds to the main pattern of a password:
// digits, symbols and letters by their kind, other patterns by name.
func addedNames(m *match.Match) []string {
	var letters, digits, spaces, symbols int
	for _, r := range m.Token {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r) || unicode.IsNumber(r):
			digits++
		case unicode.IsSpace(r):
			spaces++
		default:
			symbols++
		}
	}
	if m.Pattern != "bruteforce" && letters > 0 {
		return []string{patternName(m)} // a word, a keyboard walk, …
	}
	if p := patternName(m); p == "a year" || p == "a date" {
		return []string{p}
	}
	var out []string
	if m.Pattern == "bruteforce" {
		// zxcvbn leaves a year among other characters unmatched (2024!)
		if yearIn.MatchString(m.Token) {
			out = append(out, "a year")
			digits -= 4
		}
	}
	plural := func(n int, one, many string) {
		switch {
		case n == 1:
			out = append(out, one)
		case n > 1:
			out = append(out, many)
		}
	}
	plural(letters, "a letter", "letters")
	plural(digits, "a digit", "digits")
	plural(spaces, "a space", "spaces")
	plural(symbols, "a symbol", "symbols")
	return out
}

// guessReason says in plain words what makes a password easy to guess,
// from zxcvbn's match sequence (the patterns that cover it, in order) and
// the user inputs it was given.
func guessReason(seq []*match.Match, inputs []string) string {
	var main *match.Match
	for _, m := range seq {
		if isName(m, inputs) {
			return nameReason
		}
		if m.Pattern != "bruteforce" && (main == nil || utf8.RuneCountInString(m.Token) > utf8.RuneCountInString(main.Token)) {
			main = m
		}
	}
	if main == nil {
		return "it is too short for a password of random characters: make it longer, or use several words"
	}
	var b strings.Builder
	switch main.Pattern {
	case "repeat":
		b.WriteString("it repeats the same characters")
	default:
		b.WriteString("it is " + patternName(main))
	}
	if main.Reversed {
		b.WriteString(", reversed")
	}
	if main.L33t {
		b.WriteString(", spelled with look-alike characters (such as @ for a or 0 for o)")
	}
	var added []string
	for _, m := range seq {
		if m == main {
			continue
		}
		for _, a := range addedNames(m) {
			if !slices.Contains(added, a) {
				added = append(added, a)
			}
		}
	}
	if len(added) > 0 {
		if main.L33t || main.Reversed {
			b.WriteString(",")
		}
		b.WriteString(" with " + joinAnd(added) + " added")
	}
	return b.String()
}

// joinAnd joins words as in a sentence: "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
