package app

import (
	"context"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"portal"
	"portal/internal/format"
	"portal/internal/secevent"
	"portal/internal/store"
)

// SelfInput carries changes to the signed-in user's own account; nil
// fields are unchanged. Everything is validated before anything is written.
type SelfInput struct {
	FirstName *string
	LastName  *string
	Phone     *string
	Phone2    *string

	MACFormat *string
	Hour24    *bool
	Timezone  *string

	// Password sets a new password (password.go); OldPassword is needed
	// unless the session is privileged or opened by a recovery link.
	Password    *string
	OldPassword *string

	// Two-factor authentication (twofactor_enrol.go): true starts an enrolment
	// with a fresh secret; false turns it off, which once it is active
	// needs CurrentPassword and TwoFactor (a code or a recovery code).
	EnableTwoFactor *bool
	CurrentPassword *string
	TwoFactor       *string
}

// MaxPhoneLen bounds what is parsed as a phone number.
const MaxPhoneLen = 32

// cleanPhone normalises a phone number to E.164. Numbers without a
// country code are refused: we cannot guess the country.
func cleanPhone(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > MaxPhoneLen {
		return "", invalidField(field, "%s must be at most %d characters", field, MaxPhoneLen)
	}
	if !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "00") {
		return "", invalidField(field, "%s must start with a country code, such as +1 415 555 0100", field)
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", invalidField(field, "%s %q is not a valid phone number", field, s)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// apply validates in and applies it to a copy of u.
func (in SelfInput) apply(u portal.User) (*portal.User, error) {
	var err error
	if in.FirstName != nil {
		if u.FirstName, err = cleanName("first_name", *in.FirstName, portal.MaxNameLen, true); err != nil {
			return nil, err
		}
	}
	if in.LastName != nil {
		if u.LastName, err = cleanName("last_name", *in.LastName, portal.MaxNameLen, true); err != nil {
			return nil, err
		}
	}
	if in.Phone != nil {
		if u.Phone, err = cleanPhone("phone", *in.Phone); err != nil {
			return nil, err
		}
	}
	if in.Phone2 != nil {
		if u.Phone2, err = cleanPhone("phone2", *in.Phone2); err != nil {
			return nil, err
		}
	}
	if in.MACFormat != nil {
		if !format.ValidMACFormat(*in.MACFormat) {
			return nil, invalidField("mac_format", "mac_format must be one of %s", strings.Join(format.MACFormats, ", "))
		}
		u.MACFormat = *in.MACFormat
	}
	if in.Hour24 != nil {
		u.Hour24 = *in.Hour24
	}
	if in.Timezone != nil {
		tz, err := checkTimezone(*in.Timezone)
		if err != nil {
			return nil, err
		}
		if tz == "" {
			tz = "UTC"
		}
		u.Timezone = tz
	}
	return &u, nil
}

// selfFields is what the audit log records of an account change.
func selfFields(u *portal.User) map[string]any {
	return map[string]any{"first_name": u.FirstName, "last_name": u.LastName, "phone": u.Phone, "phone2": u.Phone2,
		"mac_format": u.MACFormat, "hour24": u.Hour24, "timezone": u.Timezone}
}

// UpdateSelf changes the actor's names, phones and display preferences.
func (s *Service) UpdateSelf(ctx context.Context, a *Actor, in SelfInput) (_ *portal.User, err error) {
	defer wrap(&err, "UpdateSelf")
	pw, err := s.preparePassword(ctx, a, in) // checked and hashed before the transaction
	if err != nil {
		return nil, err
	}
	tf, err := s.prepareTwoFactor(ctx, a, in) // two-factor authentication on or off (twofactor_enrol.go)
	if err != nil {
		return nil, err
	}
	var updated *portal.User
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		cur, err := tx.GetUser(ctx, a.User.ID)
		if err != nil {
			return err
		}
		if updated, err = in.apply(*cur); err != nil {
			return err
		}
		before, after := changed(selfFields(cur), selfFields(updated))
		if len(after) > 0 { // else nothing changed: nothing to write or audit
			updated.ModifiedTime = s.clock()
			if err := tx.UpdateUser(ctx, updated); err != nil {
				return err
			}
			if err := w.audit(ctx, updated, a.IP, "", "", "Updated account information", before, after); err != nil {
				return err
			}
		}
		if err := s.commitTwoFactor(ctx, w, a, updated, tf); err != nil {
			return err
		}
		return s.commitPassword(ctx, w, a, updated, pw)
	})
	if err != nil {
		return nil, err
	}
	tf.applied(a)
	a.User = updated
	if pw != nil {
		secevent.Log(ctx, s.log, secevent.PasswordChanged, updated.ID, "how", "change")
	}
	if tf != nil && tf.disable != nil {
		secevent.Log(ctx, s.log, secevent.TwoFactorDisabled, updated.ID, "how", "turned_off", "confirmed_with", tf.disable.kind())
	}
	return updated, nil
}

// changed returns the fields whose values differ, before and after.
func changed(before, after map[string]any) (map[string]any, map[string]any) {
	b, af := map[string]any{}, map[string]any{}
	for k, v := range after {
		if before[k] != v {
			b[k], af[k] = before[k], v
		}
	}
	return b, af
}

// Prefs returns the user's display preferences for formatting.
func Prefs(u *portal.User) format.Prefs {
	p := format.Prefs{MACFormat: u.MACFormat, Hour24: u.Hour24, Location: time.UTC}
	if loc, err := time.LoadLocation(u.Timezone); err == nil && u.Timezone != "" {
		p.Location = loc
	}
	return p
}

// Self is the signed-in user with their privileges.
type Self struct {
	User          *portal.User
	Privileges    []*portal.Privilege
	SessionExpiry int
	// Google is the linked Google account (google.go), nil without one.
	Google *GoogleLink
}

// GetSelf returns the actor's account.
func (s *Service) GetSelf(ctx context.Context, a *Actor) (_ *Self, err error) {
	defer wrap(&err, "GetSelf")
	if f := s.currentFacts(a); f != nil { // authcache.go
		return &Self{User: a.User, Privileges: f.privs, SessionExpiry: f.limits.idleMinutes(), Google: f.google}, nil
	}
	privs, err := s.db.ListPrivileges(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	limits, err := userSessionLimits(ctx, s.db, a.User.ID)
	if err != nil {
		return nil, err
	}
	google, err := s.GoogleLinkOf(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	return &Self{User: a.User, Privileges: privs, SessionExpiry: limits.idleMinutes(), Google: google}, nil
}
