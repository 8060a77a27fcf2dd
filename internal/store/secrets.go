package store

import (
	"context"
	"fmt"
)

// Sealed values: the columns that hold secrets sealed with
// authn.SecretBox, listed once so that `portal secret-key rotate`
// (app.ResealSecrets) re-seals every one of them. A new sealed column
// gets a row here.

// SealedKind names a column of sealed values.
type SealedKind string

const (
	// SealedTwoFactor is two_factor.secret, by user_id: TOTP secrets.
	SealedTwoFactor SealedKind = "two_factor"
	// SealedOAuthFlow is oauth_flows.verifier, by id: the PKCE verifiers
	// of Google sign-ins under way.
	SealedOAuthFlow SealedKind = "oauth_flow"
)

// SealedKinds is every column of sealed values.
var SealedKinds = []SealedKind{SealedTwoFactor, SealedOAuthFlow}

var sealedColumns = map[SealedKind]struct{ table, id, col string }{
	SealedTwoFactor: {"two_factor", "user_id", "secret"},
	SealedOAuthFlow: {"oauth_flows", "id", "verifier"},
}

// SealedValue is one stored sealed value: its row's id (a user's id for
// SealedTwoFactor) and the value.
type SealedValue struct {
	ID, Sealed string
}

// SealedNotUnder lists at most limit values of kind that do not begin
// with prefix (authn.SecretBox.CurrentPrefix: they were sealed under
// another key, or before values said which), in the order of their ids,
// from the first id after after ("" for the start).
func (c conn) SealedNotUnder(ctx context.Context, kind SealedKind, prefix, after string, limit int) (_ []SealedValue, err error) {
	defer wrap(&err, "SealedNotUnder(%s)", kind)
	t, ok := sealedColumns[kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind of sealed value %q", kind)
	}
	rows, err := c.query(ctx, `SELECT `+t.id+`, `+t.col+` FROM `+t.table+` WHERE `+t.id+` > ? AND substr(`+t.col+`, 1, ?) <> ?
		ORDER BY `+t.id+` LIMIT ?`, after, len(prefix), prefix, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SealedValue
	for rows.Next() {
		var v SealedValue
		if err := rows.Scan(&v.ID, &v.Sealed); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Reseal replaces the sealed value of kind in row id by resealed, if it
// still is old: it reports false, changing nothing, when the row was
// changed (a new enrolment) or deleted meanwhile.
func (tx *Tx) Reseal(ctx context.Context, kind SealedKind, id, old, resealed string) (_ bool, err error) {
	defer wrap(&err, "Reseal(%s, %s)", kind, id)
	t, ok := sealedColumns[kind]
	if !ok {
		return false, fmt.Errorf("unknown kind of sealed value %q", kind)
	}
	n, err := tx.affected(ctx, `UPDATE `+t.table+` SET `+t.col+` = ? WHERE `+t.id+` = ? AND `+t.col+` = ?`, resealed, id, old)
	return n == 1, err
}
