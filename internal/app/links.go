package app

import (
	"errors"
	"time"

	"portal"
	"portal/internal/store"
)

// checkLink says clearly why a link cannot be used, or returns nil.
func (s *Service) checkLink(used, expires time.Time) error {
	if !used.IsZero() {
		return portal.Errorf(portal.EINVALID, "this link has already been used")
	}
	if !s.clock().Before(expires) {
		return portal.Errorf(portal.EINVALID, "this link has expired; ask for a new one")
	}
	return nil
}

// linkSpent turns the store's "used or expired meanwhile" into the answer
// the user sees; other errors pass through.
func linkSpent(err error) error {
	if errors.Is(err, store.ErrTokenSpent) {
		return portal.Errorf(portal.EINVALID, "this link has already been used")
	}
	return err
}

func invalidLink() error {
	return portal.Errorf(portal.ENOTFOUND, "this link is invalid or was replaced by a newer one")
}
