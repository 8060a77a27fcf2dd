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

const orgCols = `id, name, session_expiry, session_max_lifetime, created_at, modified_at`

func scanOrg(row interface{ Scan(...any) error }) (*portal.Org, error) {
	var o portal.Org
	var created, modified int64
	if err := row.Scan(&o.ID, &o.Name, &o.SessionExpiry, &o.SessionMaxLifetime, &created, &modified); err != nil {
		return nil, err
	}
	o.CreatedTime, o.ModifiedTime = fromMS(created), fromMS(modified)
	return &o, nil
}

// CreateOrg inserts an organization; a SessionMaxLifetime of 0 is stored
// (and set in o) as portal.DefaultSessionMaxLifetime.
func (tx *Tx) CreateOrg(ctx context.Context, o *portal.Org) (err error) {
	defer wrap(&err, "CreateOrg")
	if o.SessionMaxLifetime == 0 {
		o.SessionMaxLifetime = portal.DefaultSessionMaxLifetime
	}
	_, err = tx.exec(ctx, `INSERT INTO orgs (`+orgCols+`) VALUES (?,?,?,?,?,?)`, o.ID, o.Name, o.SessionExpiry, o.SessionMaxLifetime, ms(o.CreatedTime), ms(o.ModifiedTime))
	return err
}

func (c conn) GetOrg(ctx context.Context, id string) (_ *portal.Org, err error) {
	defer wrap(&err, "GetOrg(%s)", id)
	o, err := scanOrg(c.queryRow(ctx, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("organization")
	}
	return o, err
}

func (tx *Tx) UpdateOrg(ctx context.Context, o *portal.Org) (err error) {
	defer wrap(&err, "UpdateOrg")
	return tx.execOne(ctx, notFound("organization"), `UPDATE orgs SET name = ?, session_expiry = ?, session_max_lifetime = ?, modified_at = ? WHERE id = ?`,
		o.Name, o.SessionExpiry, o.SessionMaxLifetime, ms(o.ModifiedTime), o.ID)
}

func (tx *Tx) DeleteOrg(ctx context.Context, id string) (err error) {
	defer wrap(&err, "DeleteOrg(%s)", id)
	return tx.execOne(ctx, notFound("organization"), `DELETE FROM orgs WHERE id = ?`, id)
}

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
func (c conn) GetOrgPasswordPolicy(ctx context.Context, orgID string) (_ portal.PasswordPolicy, err error) {
	defer wrap(&err, "GetOrgPasswordPolicy(%s)", orgID)
	var s string
	err = c.queryRow(ctx, `SELECT password_policy FROM orgs WHERE id = ?`, orgID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.PasswordPolicy{}, notFound("organization")
	}
	if err != nil {
		return portal.PasswordPolicy{}, err
	}
	return decodePolicy(s)
}

// SetOrgPasswordPolicy stores an organization's password policy.
func (tx *Tx) SetOrgPasswordPolicy(ctx context.Context, orgID string, p portal.PasswordPolicy, now time.Time) (err error) {
	defer wrap(&err, "SetOrgPasswordPolicy(%s)", orgID)
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
// the user has a privilege in (org- or site-scoped), by organization name
// (Access.Policies).
func (c conn) UserPasswordPolicies(ctx context.Context, userID string) (_ []OrgPolicy, err error) {
	a, err := c.UserAccess(ctx, userID)
	return a.Policies(), err
}

// SetOrgTwoFactorRequiredAt records when an organization began to require
// two-factor authentication (zero: it does not).
func (tx *Tx) SetOrgTwoFactorRequiredAt(ctx context.Context, orgID string, at time.Time) (err error) {
	defer wrap(&err, "SetOrgTwoFactorRequiredAt(%s)", orgID)
	return tx.execOne(ctx, notFound("organization"), `UPDATE orgs SET two_factor_required_at = ? WHERE id = ?`, ms(at), orgID)
}

// TwoFactorRequirement is one organization of a user whose enabled password
// policy requires two-factor authentication.
type TwoFactorRequirement struct {
	OrgID      string
	OrgName    string
	GraceDays  int
	RequiredAt time.Time // when the organization began to require it
	JoinedAt   time.Time // when the user got their first privilege in it
}

// UserTwoFactorRequirements returns the organizations of the user whose
// enabled password policy requires two-factor authentication, by name
// (Access.TwoFactorRequirements).
func (c conn) UserTwoFactorRequirements(ctx context.Context, userID string) (_ []TwoFactorRequirement, err error) {
	a, err := c.UserAccess(ctx, userID)
	return a.TwoFactorRequirements(), err
}

// LockOrg locks an organization's row until the transaction ends, so that
// changes to its members that depend on a count (its last Super User) are
// made one at a time on PostgreSQL too. (SQLite has one writer anyway: the
// statement only checks that the organization exists.) It takes the lock
// an update of the row would take, without writing the row: a write would
// move auth_epoch as a change of the organization's settings (migration
// 00019), which every instance's authentication cache takes to concern
// all its members (00026), so that each role change would drop their
// cached authentications.
func (tx *Tx) LockOrg(ctx context.Context, orgID string) (err error) {
	defer wrap(&err, "LockOrg(%s)", orgID)
	q := `SELECT 1 FROM orgs WHERE id = ?`
	if tx.d == Postgres {
		q += ` FOR NO KEY UPDATE`
	}
	var one int
	err = tx.queryRow(ctx, q, orgID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("organization")
	}
	return err
}
