package store

import (
	"context"
	"time"

	"portal"
)

// Member is a user with privileges in one organization.
type Member struct {
	UserID     string
	Email      string
	FirstName  string
	LastName   string
	Privileges []*portal.Privilege // in this organization: org scope first, then sites by name
}

// ListOrgMembers returns the users with privileges in an organization, in
// no particular order (callers sort for display), each with their
// privileges there and the names of the organization and sites.
func (c conn) ListOrgMembers(ctx context.Context, orgID string) (_ []*Member, err error) {
	defer wrap(&err, "ListOrgMembers(%s)", orgID)
	rows, err := c.query(ctx, `SELECT u.id, u.email, u.first_name, u.last_name, p.id, p.scope, p.role, COALESCE(p.site_id, ''), o.name, COALESCE(s.name, '')
		FROM privileges p JOIN users u ON u.id = p.user_id JOIN orgs o ON o.id = p.org_id LEFT JOIN sites s ON s.id = p.site_id
		WHERE p.org_id = ? ORDER BY u.id, CASE WHEN p.site_id IS NULL THEN 0 ELSE 1 END, s.name, s.id, p.id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Member
	for rows.Next() {
		var m Member
		p := &portal.Privilege{OrgID: orgID}
		if err := rows.Scan(&m.UserID, &m.Email, &m.FirstName, &m.LastName, &p.ID, &p.Scope, &p.Role, &p.SiteID, &p.OrgName, &p.SiteName); err != nil {
			return nil, err
		}
		p.UserID = m.UserID
		if n := len(out); n > 0 && out[n-1].UserID == m.UserID {
			out[n-1].Privileges = append(out[n-1].Privileges, p)
			continue
		}
		m.Privileges = []*portal.Privilege{p}
		out = append(out, &m)
	}
	return out, rows.Err()
}

// CountOrgAdmins returns how many users are Super Users (org-scoped
// admin) of an organization.
func (c conn) CountOrgAdmins(ctx context.Context, orgID string) (_ int, err error) {
	defer wrap(&err, "CountOrgAdmins(%s)", orgID)
	var n int
	err = c.queryRow(ctx, `SELECT COUNT(DISTINCT user_id) FROM privileges WHERE org_id = ? AND scope = ? AND role = ?`,
		orgID, portal.ScopeOrg, portal.RoleAdmin).Scan(&n)
	return n, err
}

// DeleteOrgPrivileges removes every privilege of a user in an organization
// and returns how many there were.
func (tx *Tx) DeleteOrgPrivileges(ctx context.Context, orgID, userID string) (_ int64, err error) {
	defer wrap(&err, "DeleteOrgPrivileges(%s, %s)", orgID, userID)
	res, err := tx.exec(ctx, `DELETE FROM privileges WHERE org_id = ? AND user_id = ?`, orgID, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (tx *Tx) CreatePrivilege(ctx context.Context, p *portal.Privilege, createdMS int64) (err error) {
	defer wrap(&err, "CreatePrivilege")
	_, err = tx.exec(ctx, `INSERT INTO privileges (id, user_id, org_id, site_id, scope, role, created_at) VALUES (?,?,?,?,?,?,?)`,
		p.ID, p.UserID, p.OrgID, nullable(p.SiteID), p.Scope, p.Role, createdMS)
	return err
}

// Access is what a user may reach and on which terms, read in one
// statement (UserAccess): their privileges, and the organizations they have
// any privilege in with what each sets for its members' accounts.
type Access struct {
	Privileges []*portal.Privilege // as ListPrivileges orders them
	Orgs       []OrgTerms          // by name, then id
}

// OrgTerms are what one organization of a user sets for its members'
// accounts, and when the user joined it.
type OrgTerms struct {
	OrgID, OrgName      string
	Policy              portal.PasswordPolicy
	SessionExpiry       int       // minutes without activity
	SessionMaxLifetime  int       // days from the login
	TwoFactorRequiredAt time.Time // when it began to require a second factor; zero: it does not
	JoinedAt            time.Time // the user's first privilege in it
}

// UserAccess returns the user's Access. Its privileges are ordered by
// organization name, then the org-scoped privilege before the site-scoped
// ones by site name (NULL site ids must not decide the order: SQLite sorts
// NULLs first, PostgreSQL last), so that each organization's rows come
// together, in the order of Orgs.
func (c conn) UserAccess(ctx context.Context, userID string) (_ Access, err error) {
	defer wrap(&err, "UserAccess(%s)", userID)
	rows, err := c.query(ctx, `SELECT p.id, p.user_id, p.org_id, COALESCE(p.site_id, ''), p.scope, p.role, o.name, COALESCE(s.name, ''),
		p.created_at, o.password_policy, o.session_expiry, o.session_max_lifetime, o.two_factor_required_at
		FROM privileges p JOIN orgs o ON o.id = p.org_id LEFT JOIN sites s ON s.id = p.site_id
		WHERE p.user_id = ? ORDER BY o.name, o.id, CASE WHEN p.site_id IS NULL THEN 0 ELSE 1 END, s.name, s.id, p.id`, userID)
	if err != nil {
		return Access{}, err
	}
	defer rows.Close()
	var out Access
	for rows.Next() {
		var p portal.Privilege
		var t OrgTerms
		var joined, required int64
		var policy string
		if err := rows.Scan(&p.ID, &p.UserID, &p.OrgID, &p.SiteID, &p.Scope, &p.Role, &p.OrgName, &p.SiteName,
			&joined, &policy, &t.SessionExpiry, &t.SessionMaxLifetime, &required); err != nil {
			return Access{}, err
		}
		out.Privileges = append(out.Privileges, &p)
		if n := len(out.Orgs); n > 0 && out.Orgs[n-1].OrgID == p.OrgID {
			out.Orgs[n-1].JoinedAt = minTime(out.Orgs[n-1].JoinedAt, fromMS(joined))
			continue
		}
		if t.Policy, err = decodePolicy(policy); err != nil {
			return Access{}, err
		}
		t.OrgID, t.OrgName, t.JoinedAt = p.OrgID, p.OrgName, fromMS(joined)
		if required > 0 {
			t.TwoFactorRequiredAt = fromMS(required)
		}
		out.Orgs = append(out.Orgs, t)
	}
	return out, rows.Err()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// ListPrivileges returns a user's privileges with organization and site
// names, in UserAccess's order.
func (c conn) ListPrivileges(ctx context.Context, userID string) (_ []*portal.Privilege, err error) {
	a, err := c.UserAccess(ctx, userID)
	return a.Privileges, err
}

// Policies are the password policies of the organizations, by name.
func (a Access) Policies() []OrgPolicy {
	var out []OrgPolicy
	for _, t := range a.Orgs {
		out = append(out, OrgPolicy{OrgID: t.OrgID, OrgName: t.OrgName, Policy: t.Policy})
	}
	return out
}

// TwoFactorRequirements are the organizations whose enabled password
// policy requires two-factor authentication, by name.
func (a Access) TwoFactorRequirements() []TwoFactorRequirement {
	var out []TwoFactorRequirement
	for _, t := range a.Orgs {
		if t.TwoFactorRequiredAt.IsZero() || !t.Policy.Enabled || !t.Policy.RequiresTwoFactorAuth {
			continue
		}
		out = append(out, TwoFactorRequirement{OrgID: t.OrgID, OrgName: t.OrgName, GraceDays: t.Policy.TwoFactorGraceDays,
			RequiredAt: t.TwoFactorRequiredAt, JoinedAt: t.JoinedAt})
	}
	return out
}

// SessionLimits are the shortest session expiry (minutes) and maximum
// lifetime (days) among the organizations, or the defaults given when
// there are none.
func (a Access) SessionLimits(defExpiry, defMaxLifetime int) (expiry, maxLifetime int) {
	if len(a.Orgs) == 0 {
		return defExpiry, defMaxLifetime
	}
	expiry, maxLifetime = a.Orgs[0].SessionExpiry, a.Orgs[0].SessionMaxLifetime
	for _, t := range a.Orgs[1:] {
		expiry, maxLifetime = min(expiry, t.SessionExpiry), min(maxLifetime, t.SessionMaxLifetime)
	}
	return expiry, maxLifetime
}
