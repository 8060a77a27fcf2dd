package server

import (
	"context"
	"net/http"
	"slices"
	"time"

	"portal/internal/app"
	"portal/internal/format"
)

// exampleMAC is the MAC address the Preferences section shows in the
// chosen format (until the inventory has real ones to show).
const exampleMAC = "5c:5b:35:0e:1f:a0"

// prefsView is the data of the Preferences section.
type prefsView struct {
	MACFormats []string
	Timezones  []string // UTC first, then the IANA zones
	ExampleMAC string
	Now        time.Time
}

// sectionPrefs is Preferences: MAC address format, 24-hour time and time
// zone, applied wherever the GUI shows a MAC address or a time.
func (s *server) sectionPrefs() accountSection {
	return accountSection{
		name: "prefs",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			zones := append([]string{"UTC"}, timezones...)
			if tz := a.User.Timezone; tz != "" && !slices.Contains(zones, tz) {
				zones = append([]string{tz}, zones...) // set through the API
			}
			return &prefsView{MACFormats: format.MACFormats, Timezones: zones, ExampleMAC: exampleMAC, Now: s.svc.Now()}, nil
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
