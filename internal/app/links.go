package app

import (
	"context"
	"errors"
	"time"

	"portal"
	"portal/internal/authn"
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

// CheckRegistration says whether a registration link can still be
// followed, without following it: the page behind the link offers its
// Verify button only then (VerifyRegistration checks again).
func (s *Service) CheckRegistration(ctx context.Context, token string) (err error) {
	defer wrap(&err, "CheckRegistration")
	if token == "" || len(token) > 128 {
		return invalidLink()
	}
	r, err := s.db.GetRegistration(ctx, authn.HashToken(token))
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return invalidLink()
	}
	if err != nil {
		return err
	}
	return s.checkLink(r.Used, r.Expires)
}
