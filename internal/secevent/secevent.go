// Package secevent logs Portal's security events (ASVS 5.0 V16.3): one
// structured log record per event, "security event" with an event name
// that does not change (security.login_failed, …), the request id and the
// client address of the request it happened in, the user id when known,
// and a reason. A record never holds a password, a code, a token, a
// cookie or an e-mail address: the user is named by id only, and a failed
// login for an address without an account names nobody.
//
// The request's id and client address travel in the context, put there
// once by the HTTP middleware (WithRequest), so the service layer logs
// events with the same fields as the transport.
package secevent

import (
	"context"
	"log/slog"
	"sync"
)

// Event is a kind of security event: its stable name and its log level
// (refusals and failures warn, changes inform).
type Event struct {
	Name  string
	Level slog.Level
}

// The events. README's "Security events" lists them.
var (
	LoginSucceeded       = Event{"security.login", slog.LevelInfo}
	LoginFailed          = Event{"security.login_failed", slog.LevelWarn}
	SecondFactorFailed   = Event{"security.second_factor_failed", slog.LevelWarn}
	APITokenRefused      = Event{"security.api_token_refused", slog.LevelWarn}
	Forbidden            = Event{"security.forbidden", slog.LevelWarn}
	CSRFRefused          = Event{"security.csrf_refused", slog.LevelWarn}
	CrossOriginRefused   = Event{"security.cross_origin_refused", slog.LevelWarn}
	RateLimited          = Event{"security.rate_limited", slog.LevelWarn}
	Lockout              = Event{"security.lockout", slog.LevelWarn}
	PasswordChanged      = Event{"security.password_changed", slog.LevelInfo}
	TwoFactorEnabled     = Event{"security.two_factor_enabled", slog.LevelInfo}
	TwoFactorDisabled    = Event{"security.two_factor_disabled", slog.LevelInfo}
	EmailChangeRequested = Event{"security.email_change_requested", slog.LevelInfo}
)

// All are the events, for the documentation's test.
var All = []Event{LoginSucceeded, LoginFailed, SecondFactorFailed, APITokenRefused, Forbidden, CSRFRefused, CrossOriginRefused,
	RateLimited, Lockout, PasswordChanged, TwoFactorEnabled, TwoFactorDisabled, EmailChangeRequested}

// request is what the context carries of the request being served.
type request struct {
	id, client string
	mu         sync.Mutex
	userID     string // the authenticated user, once known
	logged     bool   // an event was logged for this request
}

type ctxKey struct{}

// WithRequest returns ctx carrying the request's id and client address
// (the address as Portal determines it, behind trusted proxies too).
func WithRequest(ctx context.Context, id, client string) context.Context {
	return context.WithValue(ctx, ctxKey{}, &request{id: id, client: client})
}

func from(ctx context.Context) *request {
	r, _ := ctx.Value(ctxKey{}).(*request)
	return r
}

// RequestID is the id of ctx's request ("" outside one).
func RequestID(ctx context.Context) string {
	if r := from(ctx); r != nil {
		return r.id
	}
	return ""
}

// Client is the client address of ctx's request, and whether ctx is one.
func Client(ctx context.Context) (string, bool) {
	if r := from(ctx); r != nil {
		return r.client, true
	}
	return "", false
}

// SetUser records the user ctx's request authenticated as, named by the
// events logged for it afterwards.
func SetUser(ctx context.Context, userID string) {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		r.userID = userID
		r.mu.Unlock()
	}
}

// Logged reports whether an event was logged for ctx's request (so that
// a refusal that the service logged with its reason is not logged again
// as a plain 403 or 429 by the transport).
func Logged(ctx context.Context) bool {
	if r := from(ctx); r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.logged
	}
	return false
}

// Log logs one event with the request's id and client address, the user
// id (userID, else the request's authenticated user, else none) and
// further attributes as key-value pairs (a reason: "reason", "…"). Never
// pass a secret or an e-mail address.
func Log(ctx context.Context, log *slog.Logger, e Event, userID string, args ...any) {
	if log == nil {
		return
	}
	attrs := []any{"event", e.Name}
	if r := from(ctx); r != nil {
		r.mu.Lock()
		r.logged = true
		if userID == "" {
			userID = r.userID
		}
		r.mu.Unlock()
		attrs = append(attrs, "request_id", r.id, "client", r.client)
	}
	if userID != "" {
		attrs = append(attrs, "user_id", userID)
	}
	log.Log(ctx, e.Level, "security event", append(attrs, args...)...)
}
