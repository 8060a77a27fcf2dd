package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

// API tokens (Mist /api/v1/self/apitokens): a user's keys for scripts.
// "Authorization: Token <key>" acts as the user, with their privileges
// (read afresh on every request), without a CSRF token. Only the hash of a
// key is stored; the key is shown once, in the answer to its creation.
const (
	// APITokenUnusedExpiry: a token unused for this long stops working
	// (Mist's rule), counted from its last use or else its creation.
	APITokenUnusedExpiry = 90 * 24 * time.Hour
	// apiTokenTouchEvery: the last use is written at most this often.
	apiTokenTouchEvery = time.Minute
	// MaxAPITokenNameLen bounds a token's name (characters).
	MaxAPITokenNameLen = 64
	// MaxAPITokens is how many tokens one user may hold.
	MaxAPITokens = 50
)

// APIToken is one of a user's API tokens as shown to them. Key is set only
// in the answer to its creation.
type APIToken struct {
	ID       string
	Name     string
	Key      string
	Created  time.Time
	LastUsed time.Time // zero: never used
	// Expires is when the token stops working unless it is used before.
	Expires time.Time
	Expired bool
	// Current: the token that authenticates this request.
	Current bool
}

func (s *Service) apiToken(t *store.APIToken, a *Actor) *APIToken {
	last := t.LastUsed
	if last.IsZero() {
		last = t.Created
	}
	exp := last.Add(APITokenUnusedExpiry)
	return &APIToken{ID: t.ID, Name: t.Name, Created: t.Created, LastUsed: t.LastUsed, Expires: exp,
		Expired: !s.clock().Before(exp), Current: a != nil && a.APITokenID == t.ID}
}

func apiTokenFields(t *APIToken) map[string]any { return map[string]any{"id": t.ID, "name": t.Name} }

func apiTokenNotFound() error { return portal.Errorf(portal.ENOTFOUND, "API token not found") }

func cleanAPITokenName(name string) (string, error) {
	return cleanName("name", name, MaxAPITokenNameLen, true)
}

// uniqueAPITokenName refuses a name that another of the user's tokens
// (not id) has, compared without regard to case, so that the list and the
// audit log tell them apart. It runs in the write transaction that adds or
// renames the token; the database's unique index on (user_id, lower(name))
// refuses what a concurrent transaction slipped past it (apiTokenNameTaken).
func uniqueAPITokenName(ctx context.Context, tx *store.Tx, userID, id, name string) error {
	list, err := tx.ListUserAPITokens(ctx, userID)
	if err != nil {
		return err
	}
	for _, t := range list {
		if t.ID != id && strings.EqualFold(t.Name, name) {
			return errAPITokenNameTaken(t.Name)
		}
	}
	return nil
}

// errAPITokenNameTaken is the refusal of a name another of the user's
// tokens has: 409, tied to the name field.
func errAPITokenNameTaken(name string) error {
	return &portal.Error{Code: portal.ECONFLICT, Fields: map[string]any{"field": "name"},
		Message: fmt.Sprintf("you already have an API token named %q: choose another name", name)}
}

// apiTokenNameTaken turns the unique index's refusal of a write into
// errAPITokenNameTaken.
func apiTokenNameTaken(err error, name string) error {
	if errors.Is(err, store.ErrDuplicate) {
		return errAPITokenNameTaken(name)
	}
	return err
}

// CreateAPIToken creates an API token for the actor and returns it with
// its key, which is never shown again. Tokens are created from a session
// only: a token that could mint tokens would outlive its own deletion.
func (s *Service) CreateAPIToken(ctx context.Context, a *Actor, name string) (_ *APIToken, err error) {
	defer wrap(&err, "CreateAPIToken")
	if err := requireSession(a, OpCreateAPIToken); err != nil {
		return nil, err
	}
	name, err = cleanAPITokenName(name)
	if err != nil {
		return nil, err
	}
	key, err := authn.NewToken()
	if err != nil {
		return nil, err
	}
	now := s.clock()
	st := &store.APIToken{ID: newID(), UserID: a.User.ID, Name: name, KeyHash: authn.HashToken(key), Created: now}
	var out *APIToken
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		n, err := tx.CountUserAPITokens(ctx, a.User.ID)
		if err != nil {
			return err
		}
		if n >= MaxAPITokens {
			return portal.Errorf(portal.EINVALID, "you already have %d API tokens, the most allowed: delete one you no longer use first", MaxAPITokens)
		}
		if err := uniqueAPITokenName(ctx, tx, a.User.ID, "", name); err != nil {
			return err
		}
		if err := tx.CreateAPIToken(ctx, st); err != nil {
			return apiTokenNameTaken(err, name)
		}
		out = s.apiToken(st, a)
		return w.audit(ctx, a.User, a.IP, "", "", "Created API token "+name, nil, apiTokenFields(out))
	})
	if err != nil {
		return nil, err
	}
	out.Key = key
	return out, nil
}

// ListAPITokens lists the actor's API tokens, oldest first, without keys.
func (s *Service) ListAPITokens(ctx context.Context, a *Actor) (_ []*APIToken, err error) {
	defer wrap(&err, "ListAPITokens")
	list, err := s.db.ListUserAPITokens(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*APIToken, len(list))
	for i, t := range list {
		out[i] = s.apiToken(t, a)
	}
	return out, nil
}

// GetAPIToken returns one of the actor's tokens (another user's is not found).
func (s *Service) GetAPIToken(ctx context.Context, a *Actor, id string) (_ *APIToken, err error) {
	defer wrap(&err, "GetAPIToken(%s)", id)
	t, err := s.db.GetUserAPIToken(ctx, a.User.ID, id)
	if err != nil {
		return nil, err
	}
	return s.apiToken(t, a), nil
}

// RenameAPIToken renames one of the actor's tokens.
func (s *Service) RenameAPIToken(ctx context.Context, a *Actor, id, name string) (_ *APIToken, err error) {
	defer wrap(&err, "RenameAPIToken(%s)", id)
	name, err = cleanAPITokenName(name)
	if err != nil {
		return nil, err
	}
	var out *APIToken
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		t, err := tx.GetUserAPIToken(ctx, a.User.ID, id)
		if err != nil {
			return err
		}
		before := t.Name
		if before == name {
			out = s.apiToken(t, a)
			return nil
		}
		if err := uniqueAPITokenName(ctx, tx, a.User.ID, id, name); err != nil {
			return err
		}
		if err := tx.RenameAPIToken(ctx, a.User.ID, id, name); err != nil {
			return apiTokenNameTaken(err, name)
		}
		t.Name = name
		out = s.apiToken(t, a)
		return w.audit(ctx, a.User, a.IP, "", "", "Renamed API token "+before+" to "+name,
			map[string]any{"id": id, "name": before}, apiTokenFields(out))
	})
	return out, err
}

// DeleteAPIToken deletes one of the actor's tokens: it stops working at
// once, on the next request (even the token of this request).
func (s *Service) DeleteAPIToken(ctx context.Context, a *Actor, id string) (_ *APIToken, err error) {
	defer wrap(&err, "DeleteAPIToken(%s)", id)
	var out *APIToken
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		t, err := tx.GetUserAPIToken(ctx, a.User.ID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteAPIToken(ctx, a.User.ID, id); err != nil {
			return err
		}
		out = s.apiToken(t, a)
		return w.audit(ctx, a.User, a.IP, "", "", "Deleted API token "+t.Name, apiTokenFields(out), nil)
	})
	return out, err
}

// AuthenticateToken resolves an API key to its actor: the token's user,
// with no session. Unknown keys, deleted tokens or users, tokens unused
// for 90 days and accounts locked until a new password is set are
// unauthorized; an expired password restricts the actor as it restricts a
// session (Restriction).
func (s *Service) AuthenticateToken(ctx context.Context, key, ip string) (_ *Actor, err error) {
	defer wrap(&err, "AuthenticateToken")
	invalid := portal.Errorf(portal.EUNAUTHORIZED, "invalid API token: it may have been deleted; create a new one in My Account → API Tokens")
	if key == "" || len(key) > 128 {
		return nil, invalid
	}
	hash := authn.HashToken(key)
	start, err := s.authStart(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if e := s.auth.get(tokenKey(hash), start.epoch); e != nil &&
		!s.apiToken(e.token, nil).Expired && !apiTokenTouchDue(e.token, now) {
		return s.actorFrom(e, start, ip, now), nil
	}
	// The token, its user and their second factor in one query: a deleted
	// token or a disabled user is refused (authcache.go caches them).
	t, u, enrolment, err := s.db.GetAPITokenUserByKeyHash(ctx, hash)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, invalid
	}
	if err != nil {
		return nil, err
	}
	if s.apiToken(t, nil).Expired {
		return nil, &portal.Error{Code: portal.EUNAUTHORIZED, Fields: map[string]any{"token_expired": true},
			Message: "this API token has expired: it was not used for 90 days; create a new one in My Account → API Tokens"}
	}
	if u.Disabled() { // operator.go (disabling also deletes the tokens)
		return nil, errDisabled(portal.EUNAUTHORIZED)
	}
	if u.PasswordResetRequired {
		return nil, &portal.Error{Code: portal.EUNAUTHORIZED, Fields: map[string]any{"password_reset_required": true},
			Message: "this account is locked until a new password is chosen with Forgot password? on the login page"}
	}
	if apiTokenTouchDue(t, now) {
		var touched bool
		if err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
			touched, err = tx.TouchAPIToken(ctx, t.ID, now, apiTokenTouchEvery)
			return err
		}); err != nil {
			return nil, err
		}
		if touched {
			t.LastUsed = now
		}
	}
	facts, err := s.loadFacts(ctx, u, enrolment)
	if err != nil {
		return nil, err
	}
	a := &Actor{User: u, IP: ip, APITokenID: t.ID, APITokenName: t.Name, facts: facts, factsAt: start.writes}
	a.PasswordExpired = passwordExpiredAt(u, facts.passwordExpiry, now)
	// The user's two-factor state, for /self and for the organizations'
	// requirements (twofactor.go); a token owes no second factor.
	a.TwoFactor = twoFactorStateAt(a, enrolment, facts.reqs, now)
	if cacheable(a) {
		ct, cu := *t, *u
		s.auth.put(tokenKey(hash), start.epoch, &authEntry{token: &ct, user: &cu, enrolment: enrolment, facts: facts})
	}
	return a, nil
}

// apiTokenTouchDue reports whether t's last use is to be stamped: never
// stamped, or last stamped apiTokenTouchEvery ago.
func apiTokenTouchDue(t *store.APIToken, now time.Time) bool {
	return t.LastUsed.IsZero() || now.Sub(t.LastUsed) >= apiTokenTouchEvery
}

// errSessionOnly refuses to an API token what only a session can do.
func errSessionOnly(what string) error {
	return portal.Errorf(portal.EINVALID, "this request is authenticated by an API token, not a session: %s", what)
}
