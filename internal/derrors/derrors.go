// Package derrors adds context to errors once, where it is known (the
// pkgsite habit): defer derrors.Wrap(&err, nil, "GetUser(%s)", id).
package derrors

import (
	"errors"
	"fmt"

	"portal"
)

// Wrap replaces a non-nil *errp with "<format>: <*errp>" (wrapped with %w,
// so errors.Is and errors.As still see it), unless it is an answer a caller
// branches on, which is returned as it is: an error meant for the client
// (*portal.Error, whose code and message must not change) or one that is
// (errors.Is) one of keep.
func Wrap(errp *error, keep []error, format string, args ...any) {
	err := *errp
	if err == nil {
		return
	}
	var pe *portal.Error
	if errors.As(err, &pe) {
		return
	}
	for _, k := range keep {
		if errors.Is(err, k) {
			return
		}
	}
	*errp = fmt.Errorf(format+": %w", append(args, err)...)
}
