package app

import (
	"portal"
	"portal/internal/authn"
)

// CheckCSRF checks the CSRF token sent with an unsafe request of the
// actor's session (header X-CSRFToken or the form field csrf_token): it
// must equal the session's, compared in constant time. A request without
// a session (an API token) has no CSRF token to check. The refusal is 403.
func (a *Actor) CheckCSRF(token string) error {
	if a.Session == nil {
		return nil
	}
	if token == "" || !authn.EqualConstantTime(token, a.Session.CSRFToken) {
		return portal.Errorf(portal.EFORBIDDEN, "CSRF token missing or incorrect: send header X-CSRFToken with the value of the csrftoken cookie")
	}
	return nil
}
