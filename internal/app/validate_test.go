package app

import (
	"strings"
	"testing"
	"unicode"

	"portal"
)

// TestCleanEmail: one normalised form per address (NFKC, then lower
// case), and refusal of the addresses that lower-casing or NFKC would
// fold onto another one.
func TestCleanEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Ann@Example.COM":           "ann@example.com",
		"  ann@example.com \t":      "ann@example.com",
		"KATE@EXAMPLE.COM":          "kate@example.com",
		"ann@localhost":             "ann@localhost",
		"ann@ＥＸＡＭＰＬＥ.com":           "ann@example.com", // full-width domain: as IDNA maps it
		"Jürgen@Straße.de":          "jürgen@straße.de",
		"ÅSA@example.com":           "åsa@example.com",
		"o'brien+tag@example.co.uk": "o'brien+tag@example.co.uk",
	} {
		got, err := cleanEmail(in)
		if err != nil || got != want {
			t.Errorf("cleanEmail(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		if again, err := cleanEmail(got); err != nil || again != got {
			t.Errorf("cleanEmail(%q) = %q, %v: not stable", got, again, err)
		}
	}
	for in, why := range map[string]string{
		"\u212Aate@example.com":  "U+212A", // Kelvin sign, lower-cases to k
		"kate@\u212Aexample.com": "U+212A", // in the domain too
		"\u0130nes@example.com":  "U+0130", // İ, lower-cases to i
		"ines@\u0130stanbul.com": "U+0130",
		"\u0131nes@example.com":  "U+0131",      // ı, upper-cases to I
		"ro\u017Fe@example.com":  "U+017F",      // long s, upper-cases to S
		"\uFB01le@example.com":   "NFKC",        // ﬁ ligature, NFKC "fi"
		"ａnn@example.com":        "NFKC",        // full-width a
		"e\u0301@example.com":    "NFKC",        // decomposed é
		"ann@example":            "not a valid", // no dot in the domain
		"Ann <ann@example.com>":  "not a valid",
		"ann@exa mple.com":       "not a valid",
		"ann@example.com\xff":    "UTF-8",
		"":                       "required",
	} {
		got, err := cleanEmail(in)
		if err == nil || portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), why) {
			t.Errorf("cleanEmail(%q) = %q, %v; want an EINVALID error mentioning %q", in, got, err, why)
		}
	}
	if _, err := cleanEmail("a@" + strings.Repeat("b", 250) + ".com"); err == nil {
		t.Error("an address over 254 characters was accepted")
	}
}

// TestCleanEmailStable: whatever cleanEmail accepts, it accepts again
// unchanged, so a stored address is always found by itself, for every
// character in the local part and in the domain.
func TestCleanEmailStable(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !unicode.IsPrint(r) || r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		for _, in := range []string{"a" + string(r) + "b@example.com", "ab@a" + string(r) + "b.com"} {
			got, err := cleanEmail(in)
			if err != nil {
				continue
			}
			if again, err := cleanEmail(got); err != nil || again != got {
				t.Fatalf("%U: cleanEmail(%q) = %q, then %q, %v", r, in, got, again, err)
			}
			for _, c := range got {
				if c >= 0x80 && (unicode.ToLower(c) < 0x80 || unicode.ToUpper(c) < 0x80) {
					t.Fatalf("%U: cleanEmail(%q) = %q keeps a case variant of an ASCII letter", r, in, got)
				}
			}
		}
	}
}

// TestCleanNameDirection: names cannot hold the invisible characters that
// reorder the text shown around them, nor line separators.
func TestCleanNameDirection(t *testing.T) {
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C, 0x2028, 0x2029} {
		in := "Ann" + string(r) + "moc.elpmaxe"
		got, err := cleanName("first_name", in, portal.MaxNameLen, true)
		if err == nil || portal.ErrorCode(err) != portal.EINVALID || !strings.Contains(portal.ErrorMessage(err), "first_name") {
			t.Errorf("%U: cleanName = %q, %v; want an EINVALID error naming the field", r, got, err)
		}
	}
	for _, ok := range []string{"Zoë", "محمد", "José María", "李 小龙", "O'Brien-Smith", "👩\u200D💻"} {
		if got, err := cleanName("first_name", ok, portal.MaxNameLen, true); err != nil || got != ok {
			t.Errorf("cleanName(%q) = %q, %v", ok, got, err)
		}
	}
}
