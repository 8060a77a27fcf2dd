// Package format renders MAC addresses and times in a user's display
// preferences, and parses MAC addresses in any of the accepted formats.
package format

import (
	"fmt"
	"strings"
	"time"
)

// MAC address formats a user can choose.
const (
	MACColon = "xx:xx:xx:xx:xx:xx"
	MACDash  = "xx-xx-xx-xx-xx-xx"
	MACDot   = "xxxx.xxxx.xxxx"
)

// MACFormats lists the formats in the order the GUI offers them.
var MACFormats = []string{MACColon, MACDash, MACDot}

// ValidMACFormat reports whether f is one of MACFormats.
func ValidMACFormat(f string) bool {
	for _, m := range MACFormats {
		if f == m {
			return true
		}
	}
	return false
}

// ParseMAC reads a 48-bit MAC address written as xx:xx:xx:xx:xx:xx,
// xx-xx-xx-xx-xx-xx, xxxx.xxxx.xxxx or 12 bare hex digits, in either case,
// and returns its 12 lower-case hex digits.
func ParseMAC(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a MAC address (use xx:xx:xx:xx:xx:xx, xx-xx-xx-xx-xx-xx or xxxx.xxxx.xxxx)", s)
	var digits string
	switch len(s) {
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", bad
		}
		parts := strings.Split(s, string(sep))
		if len(parts) != 6 {
			return "", bad
		}
		for _, p := range parts {
			if len(p) != 2 {
				return "", bad
			}
		}
		digits = strings.Join(parts, "")
	case 14:
		parts := strings.Split(s, ".")
		if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) != 4 || len(parts[2]) != 4 {
			return "", bad
		}
		digits = strings.Join(parts, "")
	case 12:
		digits = s
	default:
		return "", bad
	}
	digits = strings.ToLower(digits)
	for _, c := range digits {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", bad
		}
	}
	return digits, nil
}

// MAC renders a MAC address (any accepted input format) in format f; an
// unparsable input is returned unchanged, an unknown format means MACColon.
func MAC(mac, f string) string {
	d, err := ParseMAC(mac)
	if err != nil {
		return mac
	}
	switch f {
	case MACDash:
		return d[0:2] + "-" + d[2:4] + "-" + d[4:6] + "-" + d[6:8] + "-" + d[8:10] + "-" + d[10:12]
	case MACDot:
		return d[0:4] + "." + d[4:8] + "." + d[8:12]
	default:
		return d[0:2] + ":" + d[2:4] + ":" + d[4:6] + ":" + d[6:8] + ":" + d[8:10] + ":" + d[10:12]
	}
}

// Prefs are a user's display preferences.
type Prefs struct {
	MACFormat string
	Hour24    bool
	Location  *time.Location // nil means UTC
}

// Time renders t as date and time in the user's zone and clock.
func (p Prefs) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	layout := "2006-01-02 3:04:05 PM MST"
	if p.Hour24 {
		layout = "2006-01-02 15:04:05 MST"
	}
	return t.In(loc).Format(layout)
}

// MAC renders a MAC address in the user's format.
func (p Prefs) MAC(mac string) string { return MAC(mac, p.MACFormat) }
