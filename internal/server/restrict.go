package server

import (
	"errors"

	"portal"
	"portal/internal/app"
)

// Restricted sessions. A session may be restricted to a few routes: while
// it owes its second factor, when it was opened by a password recovery
// link or the password has expired, and when an organization requires
// two-factor authentication and the grace period is over. Each route says
// where it is registered (routes.go) which of them it stays open to:
//
//	mux.Handle("GET /api/v1/self", s.authed(s.apiSelf, open(whenPending, whenRestricted, whenEnrolDue)))
//
// A route registered without open(…) is closed to every restricted
// session. TestRestrictedSessionsEveryRoute checks each route against its
// declaration.

// restriction is a kind of restricted session; a set of them is what a
// route is open to.
type restriction uint8

const (
	// whenPending: the session owes its second factor (401
	// "two_factor_required": true; the GUI goes to the login's second page).
	whenPending restriction = 1 << iota
	// whenRestricted: a session opened by a recovery link can only set a
	// new password, and so can a user whose password has expired, by a
	// session or an API token (403 "password_only" or "password_expired":
	// true, app.Actor.Restriction; the GUI goes to My Account ▸ Password).
	whenRestricted
	// whenEnrolDue: an organization requires two-factor authentication and
	// the grace period is over, by a session or an API token (403
	// "two_factor_enrolment_required": true; the GUI goes to My Account ▸
	// Authentication).
	whenEnrolDue
)

// open declares the restricted sessions a route stays open to.
func open(rs ...restriction) restriction {
	var set restriction
	for _, r := range rs {
		set |= r
	}
	return set
}

// restrict refuses the actor a route open to the given restricted
// sessions only, when the actor's session is restricted otherwise.
func restrict(a *app.Actor, open restriction) error {
	switch {
	case a.Session != nil && a.TwoFactor.Pending && open&whenPending == 0:
		return app.TwoFactorPendingError()
	case a.TwoFactor.EnrolDue && open&whenEnrolDue == 0:
		return a.TwoFactorEnrolError()
	}
	if err := a.Restriction(); err != nil && open&whenRestricted == 0 {
		return err
	}
	return nil
}

// isRestriction reports whether err is a refusal of a recovery session or
// an expired password (whenRestricted).
func isRestriction(err error) bool {
	var e *portal.Error
	return errors.As(err, &e) && (e.Fields["password_only"] == true || e.Fields["password_expired"] == true)
}

// twoFactorRefusal tells which two-factor refusal of restrict err is
// (whenPending, whenEnrolDue).
func twoFactorRefusal(err error) (pending, enrol bool) {
	var e *portal.Error
	if !errors.As(err, &e) {
		return false, false
	}
	return e.Fields["two_factor_required"] == true && e.Code == portal.EUNAUTHORIZED, e.Fields["two_factor_enrolment_required"] == true
}
