package app

import (
	"context"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/store"
)

func newRecoveryCodes(userID string) (codes, ids, hashes []string, err error) {
	codes, err = authn.NewRecoveryCodes(authn.RecoveryCodeCount)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, c := range codes {
		ids = append(ids, newID())
		hashes = append(hashes, authn.HashRecoveryCode(userID, authn.NormalizeRecoveryCode(c)))
	}
	return codes, ids, hashes, nil
}

// RecoveryCodeStatus tells how many of the user's recovery codes remain.
type RecoveryCodeStatus struct {
	Remaining int
	Total     int
	Created   time.Time
	Low       bool // few remain: make a new set
}

// RecoveryCodes returns the state of the actor's recovery codes (the codes
// themselves are shown only when they are made).
func (s *Service) RecoveryCodes(ctx context.Context, a *Actor) (_ *RecoveryCodeStatus, err error) {
	defer wrap(&err, "RecoveryCodes")
	if active, err := s.twoFactorActive(ctx, a.User.ID); err != nil || !active {
		if err == nil {
			err = portal.Errorf(portal.ENOTFOUND, "two-factor authentication is not active: recovery codes come with it")
		}
		return nil, err
	}
	st, err := s.db.RecoveryCodes(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	return &RecoveryCodeStatus{Remaining: st.Remaining, Total: st.Total, Created: st.Created, Low: st.Remaining <= RecoveryCodesLow}, nil
}

// RegenerateRecoveryCodes makes a new set of 10 recovery codes, which voids
// the old set; it needs the current password. The codes are returned to
// show once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a *Actor, password string) (_ []string, err error) {
	defer wrap(&err, "RegenerateRecoveryCodes")
	if err := requireSession(a, OpRecoveryCodes); err != nil {
		return nil, err
	}
	if _, err := s.RecoveryCodes(ctx, a); err != nil {
		return nil, err
	}
	if password == "" {
		return nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"password_required": true, "field": "password"},
			Message: "give your current password to make new recovery codes"}
	}
	u, err := s.db.GetUser(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrentPassword(ctx, u, password, "password"); err != nil {
		return nil, err
	}
	codes, ids, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if active, err := tx.GetTwoFactor(ctx, u.ID); err != nil || !active.Verified {
			if err == nil || portal.ErrorCode(err) == portal.ENOTFOUND {
				err = portal.Errorf(portal.ECONFLICT, "two-factor authentication was turned off meanwhile")
			}
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, ids, hashes, s.clock()); err != nil {
			return err
		}
		if err := w.mail(ctx, u.Email, "twofactor_recovery_codes", s.twoFactorMail(u, "/recover")); err != nil {
			return err
		}
		return w.audit(ctx, u, a.IP, "", "", "Made new recovery codes for two-factor authentication", nil, map[string]any{"recovery_codes": len(codes)})
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}
