package app

import (
	"context"
	"errors"
	"fmt"

	"portal"
	"portal/internal/authn"
	"portal/internal/secevent"
	"portal/internal/store"
)

// Rotating the secret key (PORTAL_SECRET_KEY) of the secrets sealed at
// rest: every instance runs with the new key, the old one in
// PORTAL_SECRET_KEY_PREVIOUS (the box opens values sealed under either and
// seals under the new one); `portal secret-key rotate` (ResealSecrets)
// re-seals every stored value under the new key; then the old key can go.
// The columns of sealed values are listed once, in store.SealedKinds.

// resealBatch is how many values one transaction of ResealSecrets
// re-seals: a short transaction, however many values there are.
const resealBatch = 200

// ResealResult says what ResealSecrets did.
type ResealResult struct {
	KeyID            string // of the current key, under which everything is sealed now
	TwoFactorSecrets int64  // TOTP secrets re-sealed
	SignInFlows      int64  // Google sign-ins under way whose PKCE verifier was re-sealed
	// UnreadableTwoFactor names (by email address) the users whose TOTP
	// secret opens under no configured key; UnreadableFlows counts the
	// sign-ins under way in that state (they fail, and expire within
	// OAuthFlowTTL).
	UnreadableTwoFactor []string
	UnreadableFlows     int
}

// Resealed is how many values were re-sealed.
func (r *ResealResult) Resealed() int64 { return r.TwoFactorSecrets + r.SignInFlows }

// ResealSecrets re-seals under the current key every stored value sealed
// under a previous key (or before sealed values named their key), in
// batches of resealBatch, each its own short transaction. It is safe to
// run while instances serve and to run again: a value is replaced only
// while it is still the one read (store.Tx.Reseal), so an enrolment made
// meanwhile stays as it is, and a value sealed under the current key is
// never read again. Each re-sealed TOTP secret is audit-logged on its
// account, as an operator's action. Values that no configured key opens
// are left as they are and reported.
func (s *Service) ResealSecrets(ctx context.Context) (_ *ResealResult, err error) {
	defer wrap(&err, "ResealSecrets")
	r := &ResealResult{KeyID: s.box.KeyID()}
	prefix := s.box.CurrentPrefix()
	var unreadable []string // ids of users
	for _, kind := range store.SealedKinds {
		for after := ""; ; {
			page, err := s.db.SealedNotUnder(ctx, kind, prefix, after, resealBatch)
			if err != nil {
				return nil, err
			}
			var from, to []store.SealedValue
			for _, v := range page {
				resealed, changed, err := s.box.Reseal(v.Sealed)
				switch {
				case errors.Is(err, authn.ErrDecrypt):
					if kind == store.SealedTwoFactor {
						unreadable = append(unreadable, v.ID)
					} else {
						r.UnreadableFlows++
					}
				case err != nil:
					return nil, err
				case changed:
					from, to = append(from, v), append(to, store.SealedValue{ID: v.ID, Sealed: resealed})
				}
			}
			if len(from) > 0 {
				n, err := s.resealBatch(ctx, kind, from, to, r.KeyID)
				if err != nil {
					return nil, err
				}
				if kind == store.SealedTwoFactor {
					r.TwoFactorSecrets += n
				} else {
					r.SignInFlows += n
				}
			}
			if len(page) < resealBatch {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	for _, id := range unreadable {
		u, err := s.db.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		r.UnreadableTwoFactor = append(r.UnreadableTwoFactor, u.Email)
	}
	return r, nil
}

// resealBatch writes one batch of re-sealed values in one transaction and
// returns how many were still as read.
func (s *Service) resealBatch(ctx context.Context, kind store.SealedKind, from, to []store.SealedValue, keyID string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *store.Tx, w *writer) error {
		n = 0
		for i, v := range from {
			ok, err := tx.Reseal(ctx, kind, v.ID, v.Sealed, to[i].Sealed)
			if err != nil {
				return err
			}
			if !ok {
				continue // changed or deleted meanwhile
			}
			n++
			if kind != store.SealedTwoFactor {
				continue
			}
			u, err := tx.GetUser(ctx, v.ID)
			if err != nil {
				return err
			}
			if err := w.audit(ctx, u, "", "", "", "An operator re-sealed the two-factor secret under the current secret key", nil,
				map[string]any{"by": "operator", "key_id": keyID}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// openTOTPSecret opens the user's sealed TOTP secret. One that opens under
// no configured key (sealed under a key that is neither PORTAL_SECRET_KEY
// nor in PORTAL_SECRET_KEY_PREVIOUS, or damaged) is a clear refusal, 409,
// not a failure of the server: the user can still give a recovery code
// (or set up again what was not verified yet), and the operator is told
// in the log what to fix.
func (s *Service) openTOTPSecret(ctx context.Context, u *portal.User, tf *store.TwoFactor) (string, error) {
	raw, err := s.box.Open(tf.Secret)
	if err == nil {
		return string(raw), nil
	}
	if !errors.Is(err, authn.ErrDecrypt) {
		return "", fmt.Errorf("two-factor secret of user %s: %w", u.ID, err)
	}
	secevent.Log(ctx, s.log, secevent.SecondFactorFailed, u.ID, "reason", "secret_unreadable")
	s.log.Error("a two-factor secret opens under no configured key: was PORTAL_SECRET_KEY changed without the old key in PORTAL_SECRET_KEY_PREVIOUS?",
		"user_id", u.ID, "err", err.Error())
	if !tf.Verified {
		return "", &portal.Error{Code: portal.ECONFLICT, Fields: map[string]any{"two_factor_unreadable": true, "field": "two_factor"},
			Message: "the two-factor setup you started can no longer be read, because this server's secret key changed: start setting up two-factor authentication again"}
	}
	return "", &portal.Error{Code: portal.ECONFLICT, Fields: map[string]any{"two_factor_unreadable": true, "field": "two_factor"},
		Message: "codes from your authenticator app cannot be checked, because this server's secret key changed: give one of your recovery codes instead, or ask your administrator"}
}
