package server

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"portal/internal/app"
	"portal/internal/format"
)

// exampleMAC is the MAC address the Preferences section shows in the
// chosen format (until the inventory has real ones to show).
const exampleMAC = "5c:5b:35:0e:1f:a0"

// prefsView is the data of the Preferences section. Each choice carries
// the example in it, formatted here by the rules every page uses
// (internal/format), so that the Example line follows the choices before
// Save (prefs.js).
type prefsView struct {
	MACFormats []macChoice
	Timezones  []zoneChoice // UTC first, then the IANA zones
	ExampleMAC string
	Now        time.Time
}

// macChoice is a MAC address format with the example address in it.
type macChoice struct{ Format, Example string }

// zoneChoice is a time zone with the example time in it, on the 12-hour
// and on the 24-hour clock.
type zoneChoice struct{ Name, Time12, Time24 string }

// zoneLocations caches the time zones the Preferences section loads
// (name → *time.Location): each page shows the example time in all of them.
var zoneLocations sync.Map

// zoneLocation is the time zone of the IANA name; UTC when it is unknown.
func zoneLocation(name string) *time.Location {
	if loc, ok := zoneLocations.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zoneLocations.Store(name, loc)
	return loc
}

// prefsChoices are the choices of the Preferences section, each with the
// example formatted in it at now.
func prefsChoices(zones []string, now time.Time) ([]macChoice, []zoneChoice) {
	var macs []macChoice
	for _, f := range format.MACFormats {
		macs = append(macs, macChoice{Format: f, Example: format.MAC(exampleMAC, f)})
	}
	var tzs []zoneChoice
	for _, z := range zones {
		p := format.Prefs{Location: zoneLocation(z)}
		t12 := p.Time(now)
		p.Hour24 = true
		tzs = append(tzs, zoneChoice{Name: z, Time12: t12, Time24: p.Time(now)})
	}
	return macs, tzs
}

// sectionPrefs is Preferences: MAC address format, 24-hour time and time
// zone, applied wherever the GUI shows a MAC address or a time.
func (s *server) sectionPrefs() accountSection {
	return accountSection{
		name:  "prefs",
		title: "Preferences",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			zones := append([]string{"UTC"}, timezones...)
			if tz := a.User.Timezone; tz != "" && !slices.Contains(zones, tz) {
				zones = append([]string{tz}, zones...) // set through the API
			}
			now := s.svc.Now()
			macs, tzs := prefsChoices(zones, now)
			return &prefsView{MACFormats: macs, Timezones: tzs, ExampleMAC: exampleMAC, Now: now}, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			// An unticked checkbox is absent from the form: 12-hour clock.
			hour24 := r.PostForm.Has("hour24")
			in := app.SelfInput{MACFormat: formValue(r, "mac_format"), Hour24: &hour24, Timezone: formValue(r, "timezone")}
			if _, err := s.svc.UpdateSelf(r.Context(), a, in); err != nil {
				return "", nil, err
			}
			return "Your preferences are saved.", nil, nil
		},
	}
}
