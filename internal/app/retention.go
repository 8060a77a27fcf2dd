package app

import (
	"context"
	"fmt"
	"time"

	"portal"
	"portal/internal/store"
)

// Retention: how long audit entries and login failures are kept, and the
// purge that deletes them afterwards. The audit entries of a deleted
// user's activity go DeletedUserAuditRetention after the deletion
// (account_delete.go); an organization's other entries after its
// audit_retention_days (set by its Super Users); entries of no existing
// organization (a user's own, a deleted organization's) after
// DefaultAuditRetentionDays; login failures after loginFailureRetention.

// An organization's audit retention, in days.
const (
	DefaultAuditRetentionDays = 365
	MinAuditRetentionDays     = 30
	MaxAuditRetentionDays     = 3650
)

const (
	loginFailureRetention = 90 * 24 * time.Hour
	// purgeBatch is how many rows one purge statement deletes at most, in
	// its own short transaction, so that requests go on in between.
	purgeBatch = 500
	// retentionLease names the lease that lets one instance at a time run
	// the purge in the background.
	retentionLease = "retention_purge"
)

// PurgeReport is what one purge removed.
type PurgeReport struct {
	DeletedUsersAudit int64 // audit entries of users deleted DeletedUserAuditRetention ago
	OrgAudit          int64 // organizations' entries past their retention
	OtherAudit        int64 // entries of no existing organization past the default retention
	LoginFailures     int64
	Batches           int // statements run
}

// Total is every row removed.
func (r *PurgeReport) Total() int64 {
	return r.DeletedUsersAudit + r.OrgAudit + r.OtherAudit + r.LoginFailures
}

func (r *PurgeReport) String() string {
	return fmt.Sprintf("%d audit entries of deleted users, %d organizations' audit entries past their retention, %d other audit entries, %d login failures (%d batches)",
		r.DeletedUsersAudit, r.OrgAudit, r.OtherAudit, r.LoginFailures, r.Batches)
}

// PurgeRetention deletes what the retention rules no longer keep at the
// service's clock, in batches of at most purgeBatch rows, each in its own
// transaction. It is idempotent, so running it on two instances at once
// only repeats work; RunCleanup runs it on one instance at a time.
func (s *Service) PurgeRetention(ctx context.Context) (_ *PurgeReport, err error) {
	defer wrap(&err, "PurgeRetention")
	now := s.clock()
	r := &PurgeReport{}
	for _, step := range []struct {
		n     *int64
		purge func(tx *store.Tx) (int64, error)
	}{
		{&r.DeletedUsersAudit, func(tx *store.Tx) (int64, error) { return tx.PurgeDeletedUsersAudit(ctx, now, purgeBatch) }},
		{&r.OrgAudit, func(tx *store.Tx) (int64, error) { return tx.PurgeOrgAudit(ctx, now, purgeBatch) }},
		{&r.OtherAudit, func(tx *store.Tx) (int64, error) {
			return tx.PurgeOtherAudit(ctx, now.Add(-DefaultAuditRetentionDays*24*time.Hour), purgeBatch)
		}},
		{&r.LoginFailures, func(tx *store.Tx) (int64, error) {
			return tx.PurgeLoginFailures(ctx, now.Add(-loginFailureRetention), purgeBatch)
		}},
	} {
		for {
			var n int64
			if err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
				n, err = step.purge(tx)
				return err
			}); err != nil {
				return r, err
			}
			*step.n += n
			r.Batches++
			if n < purgeBatch {
				break
			}
			if err := ctx.Err(); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// runRetention runs PurgeRetention if this instance (holder) gets the
// lease, held for ttl: of several instances on one database, one purges.
func (s *Service) runRetention(ctx context.Context, holder string, ttl time.Duration) {
	ok, err := s.db.ClaimLease(ctx, retentionLease, holder, s.clock(), ttl)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("retention purge: lease", "err", err)
		}
		return
	}
	if !ok {
		return // another instance purges
	}
	r, err := s.PurgeRetention(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("retention purge failed", "err", err)
	case r != nil && r.Total() > 0:
		s.log.Info("retention purge", "deleted_users_audit", r.DeletedUsersAudit, "org_audit", r.OrgAudit,
			"other_audit", r.OtherAudit, "login_failures", r.LoginFailures, "batches", r.Batches)
	}
}

// CheckAuditRetention refuses a retention outside the range.
func CheckAuditRetention(days int) error {
	if days < MinAuditRetentionDays || days > MaxAuditRetentionDays {
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"field": "audit_retention_days"},
			Message: fmt.Sprintf("audit_retention_days must be between %d and %d days", MinAuditRetentionDays, MaxAuditRetentionDays)}
	}
	return nil
}

// AuditRetention returns how many days an organization keeps its audit
// entries (Super User only, like the other settings).
func (s *Service) AuditRetention(ctx context.Context, a *Actor, orgID string) (_ int, err error) {
	defer wrap(&err, "AuditRetention(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return 0, err
	}
	if err := requireAdmin(acc, "see its settings"); err != nil {
		return 0, err
	}
	return s.db.GetOrgAuditRetention(ctx, orgID)
}

// SetAuditRetention sets how many days an organization keeps its audit
// entries (Super User only; MinAuditRetentionDays to
// MaxAuditRetentionDays). The audit entries of a deleted user's activity
// go after DeletedUserAuditRetention whatever this says.
func (s *Service) SetAuditRetention(ctx context.Context, a *Actor, orgID string, days int) (err error) {
	defer wrap(&err, "SetAuditRetention(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return err
	}
	if err := requireAdmin(acc, "change its settings"); err != nil {
		return err
	}
	if err := CheckAuditRetention(days); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		before, err := tx.GetOrgAuditRetention(ctx, orgID)
		if err != nil {
			return err
		}
		if err := tx.SetOrgAuditRetention(ctx, orgID, days, s.clock()); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, orgID, "", "Updated audit log retention",
			map[string]any{"audit_retention_days": before}, map[string]any{"audit_retention_days": days})
	})
}
