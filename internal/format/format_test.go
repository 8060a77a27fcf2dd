package format

import (
	"testing"
	"time"
)

func TestParseMAC(t *testing.T) {
	for _, in := range []string{"5c:5b:35:0e:1f:a0", "5C-5B-35-0E-1F-A0", "5c5b.350e.1fa0", "5C5B350E1FA0", " 5c:5b:35:0e:1f:a0 "} {
		got, err := ParseMAC(in)
		if err != nil || got != "5c5b350e1fa0" {
			t.Errorf("ParseMAC(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "5c:5b:35:0e:1f", "5c:5b-35:0e:1f:a0", "5c5b.350e.1fa", "zz:5b:35:0e:1f:a0", "5c5b350e1fa0ff", "5c:5b:35:0e:1:fa0"} {
		if got, err := ParseMAC(in); err == nil {
			t.Errorf("ParseMAC(%q) = %q, want an error", in, got)
		}
	}
}

func TestMAC(t *testing.T) {
	for f, want := range map[string]string{MACColon: "5c:5b:35:0e:1f:a0", MACDash: "5c-5b-35-0e-1f-a0", MACDot: "5c5b.350e.1fa0", "": "5c:5b:35:0e:1f:a0"} {
		if got := MAC("5C-5B-35-0E-1F-A0", f); got != want {
			t.Errorf("MAC in %q = %q, want %q", f, got, want)
		}
	}
	if got := MAC("not a mac", MACDot); got != "not a mac" {
		t.Errorf("unparsable input changed: %q", got)
	}
}

func TestTime(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	ts := time.Date(2026, 7, 1, 13, 5, 9, 0, time.UTC)
	if got := (Prefs{}).Time(ts); got != "2026-07-01 1:05:09 PM UTC" {
		t.Errorf("12-hour UTC: %q", got)
	}
	if got := (Prefs{Hour24: true, Location: paris}).Time(ts); got != "2026-07-01 15:05:09 CEST" {
		t.Errorf("24-hour Paris: %q", got)
	}
	if got := (Prefs{}).Time(time.Time{}); got != "—" {
		t.Errorf("zero time: %q", got)
	}
}
