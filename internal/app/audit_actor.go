package app

import (
	"context"

	"portal"
)

// The actor of a request, carried in its context, so that the audit entry
// of a change made with an API token names the token whatever operation
// writes it (writer.audit).

type actorKey struct{}

// WithActor returns ctx carrying the actor of the request.
func WithActor(ctx context.Context, a *Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// apiTokenOf is the name of the API token with which the request of ctx
// acts as who ("" for a session, or for an entry about someone else).
func apiTokenOf(ctx context.Context, who *portal.User) string {
	a, _ := ctx.Value(actorKey{}).(*Actor)
	if a == nil || a.APITokenID == "" || a.User == nil || who == nil || a.User.ID != who.ID {
		return ""
	}
	return a.APITokenName
}
