package app

import (
	"context"
	"slices"
	"strings"
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
		return nil, portal.Errorf(portal.ENOTFOUND, "no account has the email address %q", clean)
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

// Operators of the deployment: who reads the survey's results
// (survey.go). An account is an operator when its address is in
// PORTAL_OPERATORS (Options.Operators) or when `portal operator add`
// made it one (the operators table); `portal operator remove` undoes only
// the latter.

// operatorSet is the addresses of Options.Operators, by store.EmailKey of
// their normalised form.
func operatorSet(addrs []string) map[string]bool {
	set := map[string]bool{}
	for _, a := range addrs {
		if clean, err := cleanEmail(a); err == nil {
			set[store.EmailKey(clean)] = true
		} else if a = strings.TrimSpace(a); a != "" {
			set[store.EmailKey(a)] = true
		}
	}
	return set
}

// IsOperator reports whether the actor is an operator of the deployment.
func (s *Service) IsOperator(ctx context.Context, a *Actor) (_ bool, err error) {
	defer wrap(&err, "IsOperator")
	if s.operators[store.EmailKey(a.User.Email)] {
		return true, nil
	}
	return s.db.IsOperator(ctx, a.User.ID)
}

// Operator is one operator of the deployment, as `portal operator list`
// shows them.
type Operator struct {
	Email string
	Name  string    // "" for an address of PORTAL_OPERATORS without an account
	Since time.Time // when `portal operator add` made them one; zero for PORTAL_OPERATORS
	// Setting: the address is in PORTAL_OPERATORS; Added: `portal
	// operator add` made the account one (both may hold).
	Setting, Added bool
}

// AddOperator makes the account of email an operator of the deployment
// (`portal operator add`); it reports false when it was one already by
// the command. Audit-logged on the account.
func (s *Service) AddOperator(ctx context.Context, email string) (_ *portal.User, added bool, err error) {
	defer wrap(&err, "AddOperator")
	var u *portal.User
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if u, err = operatorUser(ctx, tx, email); err != nil {
			return err
		}
		if added, err = tx.AddOperator(ctx, u.ID, s.clock()); err != nil || !added {
			return err
		}
		return w.audit(ctx, u, "", "", "", "An operator made the account an operator of this Portal", map[string]any{"operator": false},
			map[string]any{"by": "operator", "operator": true})
	})
	if err != nil {
		return nil, false, err
	}
	return u, added, nil
}

// RemoveOperator ends what AddOperator did (`portal operator remove`); it
// reports false when the command had not made the account an operator. An
// address in PORTAL_OPERATORS stays an operator until the setting changes.
// Audit-logged on the account.
func (s *Service) RemoveOperator(ctx context.Context, email string) (_ *portal.User, removed bool, err error) {
	defer wrap(&err, "RemoveOperator")
	var u *portal.User
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if u, err = operatorUser(ctx, tx, email); err != nil {
			return err
		}
		if removed, err = tx.RemoveOperator(ctx, u.ID); err != nil || !removed {
			return err
		}
		return w.audit(ctx, u, "", "", "", "An operator removed the account from the operators of this Portal", map[string]any{"operator": true},
			map[string]any{"by": "operator", "operator": false})
	})
	if err != nil {
		return nil, false, err
	}
	return u, removed, nil
}

// ListOperators lists the operators of the deployment by address: those
// `portal operator add` made and those of PORTAL_OPERATORS.
func (s *Service) ListOperators(ctx context.Context) (_ []*Operator, err error) {
	defer wrap(&err, "ListOperators")
	added, err := s.db.ListOperators(ctx)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Operator{}
	for _, o := range added {
		byKey[store.EmailKey(o.Email)] = &Operator{Email: o.Email, Name: strings.TrimSpace(o.FirstName + " " + o.LastName), Since: o.Since, Added: true}
	}
	for key := range s.operators {
		if o, ok := byKey[key]; ok {
			o.Setting = true
			continue
		}
		o := &Operator{Email: key, Setting: true}
		if u, err := s.db.GetUserByEmail(ctx, key); err == nil {
			o.Email, o.Name = u.Email, u.Name()
		} else if portal.ErrorCode(err) != portal.ENOTFOUND {
			return nil, err
		}
		byKey[key] = o
	}
	out := make([]*Operator, 0, len(byKey))
	for _, o := range byKey {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *Operator) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}
