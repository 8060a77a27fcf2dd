package store

import (
	"context"
	"time"
)

// disabledAt is the stored form of User.DisabledTime: NULL while enabled.
func disabledAt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

// SetUserDisabled disables the user's account at at, or enables it when at
// is zero. A missing user is not found.
func (tx *Tx) SetUserDisabled(ctx context.Context, userID string, at time.Time) (err error) {
	defer wrap(&err, "SetUserDisabled(%s)", userID)
	return tx.execOne(ctx, notFound("user"), `UPDATE users SET disabled_at = ? WHERE id = ?`, disabledAt(at), userID)
}
