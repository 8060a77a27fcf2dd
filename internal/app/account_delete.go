package app

import (
	"context"
	"strings"
	"time"

	"portal"
	"portal/internal/mail"
	"portal/internal/store"
)

// Deleting one's own account (User icon ▸ Utilities ▸ Delete Account,
// DELETE /api/v1/self): the account and everything that lets anyone in
// with it go at once; organizations where the user is the only member go
// with their sites; the audit entries of the user's activity stay visible
// to the organizations, under the name they carry, for
// DeletedUserAuditRetention, and are then purged (retention.go).

// DeletedUserAuditRetention is how long the audit entries of a deleted
// user's activity are kept after the deletion.
const DeletedUserAuditRetention = 30 * 24 * time.Hour

// AccountDeletion is what deleting an account does, or would do.
type AccountDeletion struct {
	// DeletedOrgs are the organizations of which the user is the only
	// member: they are deleted with their sites.
	DeletedOrgs []string
	// LeftOrgs are the organizations the user leaves.
	LeftOrgs []string
	// Blocking are the organizations of which the user is the only Super
	// User while others are members: the deletion is refused until
	// someone else is made Super User there or the organization is deleted.
	Blocking    []string
	blockingIDs []string
	deleteIDs   []string
	orgIDs      []string // every organization of the user
}

func accountDeletion(ms []*store.Membership) *AccountDeletion {
	d := &AccountDeletion{}
	for _, m := range ms {
		d.orgIDs = append(d.orgIDs, m.OrgID)
		switch {
		case m.OtherMembers == 0:
			d.DeletedOrgs = append(d.DeletedOrgs, m.OrgName)
			d.deleteIDs = append(d.deleteIDs, m.OrgID)
		case m.SuperUser && m.OtherSuperUsers == 0:
			d.Blocking = append(d.Blocking, m.OrgName)
			d.blockingIDs = append(d.blockingIDs, m.OrgID)
		default:
			d.LeftOrgs = append(d.LeftOrgs, m.OrgName)
		}
	}
	return d
}

// refusal is the error of a deletion that Blocking forbids.
func (d *AccountDeletion) refusal() error {
	if len(d.Blocking) == 0 {
		return nil
	}
	names := `"` + strings.Join(d.Blocking, `", "`) + `"`
	what := "organization " + names + ", which has"
	if len(d.Blocking) > 1 {
		what = "organizations " + names + ", which have"
	}
	return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"organizations": d.Blocking, "org_id": d.blockingIDs[0]}, // org_id: Mist's error_delete_failed
		Message: "your account cannot be deleted while you are the only Super User of the " + what +
			" other members: make another member a Super User there (Organization ▸ Administrators), or delete the organization, then try again"}
}

// PreviewAccountDeletion says what deleting the actor's account would do
// (the confirmation lists it), without changing anything.
func (s *Service) PreviewAccountDeletion(ctx context.Context, a *Actor) (_ *AccountDeletion, err error) {
	defer wrap(&err, "PreviewAccountDeletion")
	ms, err := s.db.UserMemberships(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	return accountDeletion(ms), nil
}

// DeleteAccount deletes the actor's account. It needs a session (never an
// API token) and the current password with, when two-factor
// authentication is on, a current code (proof). It is refused, naming the
// organizations, while the actor is the only Super User of an
// organization that has other members. In one transaction: organizations
// of which the actor is the only member are deleted with their sites, the
// account with its sessions, tokens, links, second factor and memberships,
// open invitations to the address are withdrawn; the audit entry and the
// confirmation mail to the address go with it. The address can sign up
// again afterwards.
func (s *Service) DeleteAccount(ctx context.Context, a *Actor, proof Reauth) (_ *AccountDeletion, err error) {
	defer wrap(&err, "DeleteAccount")
	if err := requireSession(a, OpDeleteAccount); err != nil {
		return nil, err
	}
	d, err := s.PreviewAccountDeletion(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := d.refusal(); err != nil {
		return nil, err
	}
	second, err := s.checkReauth(ctx, a, proof, "delete your account")
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		cur, err := tx.GetUser(ctx, a.User.ID)
		if err != nil {
			return err
		}
		// Decide again in the transaction, with the organizations locked
		// against concurrent changes of their members (admins.go).
		for _, id := range d.orgIDs {
			if err := tx.LockOrg(ctx, id); err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
				return err
			}
		}
		ms, err := tx.UserMemberships(ctx, cur.ID)
		if err != nil {
			return err
		}
		d = accountDeletion(ms)
		if err := d.refusal(); err != nil {
			return err
		}
		if second != nil {
			if err := s.commitProof(ctx, w, a, cur, second); err != nil {
				return err
			}
		}
		for _, id := range d.deleteIDs {
			if err := tx.DeleteOrg(ctx, id); err != nil {
				return err
			}
		}
		now := s.clock()
		invites, err := tx.DeleteUser(ctx, cur, now, now.Add(DeletedUserAuditRetention))
		if err != nil {
			return err
		}
		after := map[string]any{"deleted_organizations": nonNil(d.DeletedOrgs), "left_organizations": nonNil(d.LeftOrgs)}
		if invites > 0 {
			after["invitations_withdrawn"] = invites
		}
		if err := w.audit(ctx, cur, a.IP, "", "", "Deleted account", map[string]any{"email": cur.Email}, after); err != nil {
			return err
		}
		return w.mail(ctx, cur.Email, "account_deleted", mail.LinkData{Name: cur.FirstName, Email: cur.Email, BaseURL: s.baseURL, Link: s.link("/signup"),
			OrgName: strings.Join(d.DeletedOrgs, ", "), ExpiresIn: Lifetime(DeletedUserAuditRetention)})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
