package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/store"
)

// Operator actions: what the person running Portal does to an account from
// the command line (`portal user …` in cmd/portal), with no session of its
// own. Each is audit-logged on the account, as done by an operator.

// DisabledMessage is what a disabled account is told, at login, on a
// recovery link, and on a request with one of its sessions or tokens.
const DisabledMessage = "This account is disabled; contact your administrator"

// errDisabled refuses a disabled account: 403 where a password or a link
// was given (the caller proved who they are), 401 for a session or a token.
func errDisabled(code string) error {
	return &portal.Error{Code: code, Fields: map[string]any{"account_disabled": true}, Message: DisabledMessage}
}

// OperatorResult says what an operator action did.
type OperatorResult struct {
	User             *portal.User
	WasDisabled      bool  // the account was disabled before the action
	SessionsEnded    int64 // sessions deleted
	APITokensRevoked int64 // API tokens deleted
}

// operatorUser finds the account of an e-mail address for an operator
// action: an unknown address is not found, with the address in the answer.
func operatorUser(ctx context.Context, tx *store.Tx, email string) (*portal.User, error) {
	clean, err := cleanEmail(email)
	if err != nil {
		return nil, err
	}
	u, err := tx.GetUserByEmail(ctx, clean)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, portal.Errorf(portal.ENOTFOUND, "no account has the e-mail address %q", clean)
	}
	return u, err
}

// operatorAudit is the audit fields of an operator action.
func operatorAudit(r *OperatorResult) map[string]any {
	return map[string]any{"by": "operator", "sessions_ended": r.SessionsEnded, "api_tokens_revoked": r.APITokensRevoked}
}

// DisableUser disables the account of email: from the next request on
// (on every instance: the check is part of authenticating each request,
// Authenticate and AuthenticateToken) its sessions and API tokens are
// refused, and login and password recovery answer DisabledMessage. Its
// sessions and API tokens are deleted in the same transaction; nothing
// else is (organizations, memberships, audit logs stay). EnableUser lets
// the account log in again; the deleted tokens stay deleted. Disabling a
// disabled account ends whatever sessions it still has and changes
// nothing else.
func (s *Service) DisableUser(ctx context.Context, email string) (_ *OperatorResult, err error) {
	defer wrap(&err, "DisableUser")
	r := &OperatorResult{}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		*r = OperatorResult{}
		u, err := operatorUser(ctx, tx, email)
		if err != nil {
			return err
		}
		r.User, r.WasDisabled = u, u.Disabled()
		if !u.Disabled() {
			u.DisabledTime = s.clock()
			if err := tx.SetUserDisabled(ctx, u.ID, u.DisabledTime); err != nil {
				return err
			}
		}
		if r.SessionsEnded, err = tx.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return err
		}
		if r.APITokensRevoked, err = tx.DeleteUserAPITokens(ctx, u.ID); err != nil {
			return err
		}
		return w.audit(ctx, u, "", "", "", "An operator disabled the account (sessions ended, API tokens revoked)",
			map[string]any{"disabled": r.WasDisabled}, operatorAudit(r))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// EnableUser lets a disabled account log in again. API tokens revoked when
// it was disabled stay revoked: the owner makes new ones. Enabling an
// enabled account changes nothing and is not audited.
func (s *Service) EnableUser(ctx context.Context, email string) (_ *OperatorResult, err error) {
	defer wrap(&err, "EnableUser")
	r := &OperatorResult{}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		*r = OperatorResult{}
		u, err := operatorUser(ctx, tx, email)
		if err != nil {
			return err
		}
		r.User, r.WasDisabled = u, u.Disabled()
		if !u.Disabled() {
			return nil
		}
		if err := tx.SetUserDisabled(ctx, u.ID, time.Time{}); err != nil {
			return err
		}
		u.DisabledTime = time.Time{}
		return w.audit(ctx, u, "", "", "", "An operator enabled the account", map[string]any{"disabled": true},
			map[string]any{"by": "operator", "disabled": false})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// EndUserSessions signs the account of email out everywhere (every
// session, including ones still owing a second factor or opened by a
// recovery link); its API tokens are left alone. The account can log in
// again at once: to keep it out, disable it.
func (s *Service) EndUserSessions(ctx context.Context, email string) (_ *OperatorResult, err error) {
	defer wrap(&err, "EndUserSessions")
	r := &OperatorResult{}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		*r = OperatorResult{}
		u, err := operatorUser(ctx, tx, email)
		if err != nil {
			return err
		}
		r.User, r.WasDisabled = u, u.Disabled()
		if r.SessionsEnded, err = tx.DeleteUserSessions(ctx, u.ID, ""); err != nil {
			return err
		}
		return w.audit(ctx, u, "", "", "", "An operator signed the account out everywhere", nil, operatorAudit(r))
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
