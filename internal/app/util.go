package app

import (
	"strings"

	"portal/internal/derrors"
)

func lower(s string) string { return strings.ToLower(s) }

// wrap names the service operation in an unexpected error (a database or
// crypto failure) for the log: "app: UpdateAdmin(<org>, <user>): store:
// LockOrg(<org>): …". An error meant for the client (*portal.Error) is
// returned as it is, so its code and message, and tests that assert its
// type, are unchanged; errors.Is and errors.As see through the wrapping.
// Used as defer wrap(&err, "Name(%s)", id) at the top of an exported method.
func wrap(errp *error, format string, args ...any) {
	derrors.Wrap(errp, nil, "app: "+format, args...)
}
