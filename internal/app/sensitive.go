package app

import (
	"context"
	"strings"

	"portal"
)

// Sensitive operations: what an API token may never do, in one place, and
// the re-authentication that the most sensitive changes ask for.

// What an API token may never do.
//
// An API token is a long-lived key that scripts keep in files and
// environment variables: whoever finds one acts as its user. So that such a
// find cannot take the account over or lock its owner out, every change of
// a way into the account needs a session in which the owner signed in: a
// new key, a new e-mail address (through which the password can be reset),
// a new password, or a change of the second factor. Each operation below
// calls requireSession first, before it reads its input; a test tries each
// one with a token.

// SessionOnly is an operation that an API token may never perform.
type SessionOnly string

// The operations refused to API tokens (their text completes "an API token
// cannot …").
const (
	OpCreateAPIToken  SessionOnly = "create API tokens"
	OpChangeEmail     SessionOnly = "change the email address (request, resend or confirm a change)"
	OpChangePassword  SessionOnly = "change the password"
	OpChangeTwoFactor SessionOnly = "set up or turn off two-factor authentication"
	OpRecoveryCodes   SessionOnly = "make new recovery codes"
	OpDeleteAccount   SessionOnly = "delete the account"
)

// SessionOnlyOperations lists every operation refused to API tokens.
var SessionOnlyOperations = []SessionOnly{OpCreateAPIToken, OpChangeEmail, OpChangePassword, OpChangeTwoFactor, OpRecoveryCodes, OpDeleteAccount}

// requireSession refuses op to an actor authenticated by an API token:
// 403 with "session_required": true.
func requireSession(a *Actor, op SessionOnly) error {
	if a.Session != nil {
		return nil
	}
	return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"session_required": true},
		Message: "an API token cannot " + string(op) + ": log in with your password and do it in that session"}
}

// Reauth is the proof of identity that a change giving a new way into the
// account (the e-mail address, through which the password can be reset)
// asks for, whatever the age of the session: the current password and,
// when two-factor authentication is on, a current code from the app or a
// recovery code. A stolen session alone is not enough.
type Reauth struct {
	Password  string
	TwoFactor string
}

// checkReauth verifies r for the actor before the change's transaction
// (it hashes). what completes "to …" in the refusal. It returns the second
// factor's proof, to commit in the change's transaction so that the code is
// used once (nil without two-factor authentication). Missing parts are a
// 403 with "reauthentication_required"; a wrong password or code is a 400
// naming the field, counted like other wrong guesses.
func (s *Service) checkReauth(ctx context.Context, a *Actor, r Reauth, what string) (*twoFactorProof, error) {
	tf, err := s.getTwoFactor(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	active := tf != nil && tf.Verified
	noPassword, noCode := r.Password == "", active && strings.TrimSpace(r.TwoFactor) == ""
	if noPassword || noCode {
		msg, field := "to "+what+", give your current password", "password"
		if active {
			msg += " and a code from your authenticator app (or a recovery code)"
			if !noPassword {
				field = "two_factor"
			}
		}
		return nil, &portal.Error{Code: portal.EFORBIDDEN, Message: msg, Fields: map[string]any{"reauthentication_required": true,
			"password_required": true, "two_factor_required": active, "field": field}}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, u, r.Password, "password"); err != nil {
		return nil, err
	}
	if !active {
		return nil, nil
	}
	return s.checkSecondFactor(ctx, u, tf, r.TwoFactor)
}
