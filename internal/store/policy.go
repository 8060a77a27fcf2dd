package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal"
)

// policyJSON is how a password policy is kept in orgs.password_policy.
type policyJSON struct {
	Enabled               bool `json:"enabled"`
	MinLength             int  `json:"min_length"`
	RequiresSpecialChar   bool `json:"requires_special_char"`
	RequiresTwoFactorAuth bool `json:"requires_two_factor_auth"`
	ExpiryInDays          int  `json:"expiry_in_days"`
	HistoryCount          int  `json:"history_count"`
	BlockCommon           bool `json:"block_common"`
	MinCharacterClasses   int  `json:"min_character_classes"`
	TwoFactorGraceDays    int  `json:"two_factor_grace_days"`
}

func decodePolicy(s string) (portal.PasswordPolicy, error) {
	if strings.TrimSpace(s) == "" {
		return portal.DefaultPasswordPolicy(), nil
	}
	var j policyJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return portal.PasswordPolicy{}, fmt.Errorf("store: password policy: %w", err)
	}
	return portal.PasswordPolicy(j), nil
}

// GetOrgPasswordPolicy returns an organization's password policy (the
// defaults when it never set one).
func (c conn) GetOrgPasswordPolicy(ctx context.Context, orgID string) (portal.PasswordPolicy, error) {
	var s string
	err := c.queryRow(ctx, `SELECT password_policy FROM orgs WHERE id = ?`, orgID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.PasswordPolicy{}, notFound("organization")
	}
	if err != nil {
		return portal.PasswordPolicy{}, err
	}
	return decodePolicy(s)
}

// SetOrgPasswordPolicy stores an organization's password policy.
func (tx *Tx) SetOrgPasswordPolicy(ctx context.Context, orgID string, p portal.PasswordPolicy, now time.Time) error {
	b, err := json.Marshal(policyJSON(p))
	if err != nil {
		return err
	}
	return tx.execOne(ctx, notFound("organization"), `UPDATE orgs SET password_policy = ?, modified_at = ? WHERE id = ?`, string(b), ms(now), orgID)
}

// OrgPolicy is the password policy of one organization a user belongs to.
type OrgPolicy struct {
	OrgID   string
	OrgName string
	Policy  portal.PasswordPolicy
}

// UserPasswordPolicies returns the password policies of every organization
// the user has a privilege in (org- or site-scoped), by organization name.
func (c conn) UserPasswordPolicies(ctx context.Context, userID string) ([]OrgPolicy, error) {
	rows, err := c.query(ctx, `SELECT o.id, o.name, o.password_policy FROM orgs o
		WHERE o.id IN (SELECT p.org_id FROM privileges p WHERE p.user_id = ?) ORDER BY o.name, o.id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OrgPolicy
	for rows.Next() {
		var op OrgPolicy
		var s string
		if err := rows.Scan(&op.OrgID, &op.OrgName, &s); err != nil {
			return nil, err
		}
		if op.Policy, err = decodePolicy(s); err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, rows.Err()
}

// PasswordHistory returns the hashes of a user's previous passwords, newest
// first, at most limit of them.
func (c conn) PasswordHistory(ctx context.Context, userID string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := c.query(ctx, `SELECT password_hash FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ErrPasswordChanged is returned by ChangePassword when the stored hash is
// no longer the one the change was checked against (a concurrent change).
var ErrPasswordChanged = errors.New("store: password changed meanwhile")

// ChangePassword replaces the user's password hash with newHash, only if it
// is still oldHash, keeps oldHash in the password history (trimmed to the
// newest keep entries), moves the password's time and clears the
// reset-required flag.
func (tx *Tx) ChangePassword(ctx context.Context, userID, oldHash, newHash string, now time.Time, historyID string, keep int) error {
	err := tx.execOne(ctx, ErrPasswordChanged, `UPDATE users SET password_hash = ?, password_modified_at = ?, modified_at = ?, password_reset_required = ?
		WHERE id = ? AND password_hash = ?`, newHash, ms(now), ms(now), false, userID, oldHash)
	if err != nil {
		return err
	}
	// created_at orders the history: it moves on by at least a millisecond
	// per entry even when the clock does not.
	if _, err := tx.exec(ctx, `INSERT INTO password_history (id, user_id, password_hash, created_at)
		SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CASE WHEN COALESCE(MAX(created_at), 0) >= ? THEN MAX(created_at) + 1 ELSE ? END
		FROM password_history WHERE user_id = ?`, historyID, userID, oldHash, ms(now), ms(now), userID); err != nil {
		return err
	}
	_, err = tx.exec(ctx, `DELETE FROM password_history WHERE user_id = ? AND id NOT IN
		(SELECT id FROM password_history WHERE user_id = ? ORDER BY created_at DESC LIMIT ?)`, userID, userID, keep)
	return err
}

// PromoteSession turns a password-only session (opened by a recovery link)
// into a full one once the new password is set.
func (tx *Tx) PromoteSession(ctx context.Context, id string, authTime, expires time.Time) error {
	return tx.execOne(ctx, notFound("session"), `UPDATE sessions SET password_only = ?, auth_at = ?, last_seen_at = ?, expires_at = ? WHERE id = ?`,
		false, ms(authTime), ms(authTime), ms(expires), id)
}
