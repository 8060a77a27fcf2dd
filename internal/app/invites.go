package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/store"
)

// Invitations: a Super User invites an address into the organization with
// a role and site access; the invitee gets a link. Someone with an account
// logs in and accepts or declines; someone without one signs up from the
// link, which proves the address, and lands in the organization. Inviting
// the same address again replaces the link of its open invitation.

const (
	DefaultInviteHours = 7 * 24 // validity of an invitation link
	MaxInviteHours     = 7 * 24
)

// InviteInput is an invitation, or a change to one (where empty fields and
// nil Privileges keep what the invitation has).
type InviteInput struct {
	Email      string
	FirstName  string
	LastName   string
	Privileges []PrivilegeInput
	Hours      *int // 1..168; nil: 168 for a new invitation, the invitation's own for a change
}

func checkHours(h *int) (int, error) {
	if h == nil {
		return DefaultInviteHours, nil
	}
	if *h < 1 || *h > MaxInviteHours {
		return 0, portal.Errorf(portal.EINVALID, "hours must be between 1 and %d (7 days), the validity of the invitation link (got %d)", MaxInviteHours, *h)
	}
	return *h, nil
}

// validity describes hours for a mail: "7 days", "36 hours", "1 hour".
func validity(hours int) string { return Lifetime(time.Duration(hours) * time.Hour) }

// Lifetime says how long a duration of whole hours is, as mails and pages
// say it: "1 hour", "36 hours", "7 days".
func Lifetime(d time.Duration) string {
	hours := int(d / time.Hour)
	switch {
	case hours%24 == 0 && hours > 24:
		return fmt.Sprintf("%d days", hours/24)
	case hours == 1:
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", hours)
}

func inviteFields(inv *store.Invite) map[string]any {
	f := Grant{Role: inv.Role, Sites: inv.Sites, NoSites: inv.Scope == portal.ScopeSite}.fields()
	f["email"], f["first_name"], f["last_name"], f["expire_time"] = inv.Email, inv.FirstName, inv.LastName, inv.Expires.Unix()
	return f
}

// notMember refuses an invitation of someone already in the organization.
func notMember(ctx context.Context, tx *store.Tx, orgID, orgName, email string) error {
	u, err := tx.GetUserByEmail(ctx, email)
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	privs, err := tx.ListPrivileges(ctx, u.ID)
	if err != nil {
		return err
	}
	if g, ok := grantOf(privs, orgID); ok {
		return portal.Errorf(portal.EINVALID, "%s is already a member of %s (%s): change their role with Manage instead of inviting them; nothing was sent",
			u.Email, orgName, guiRole(g.Role))
	}
	return nil
}

// closedInvite says why a closed invitation cannot be changed.
func closedInvite(inv *store.Invite) error {
	switch inv.Status {
	case store.InviteAccepted:
		return portal.Errorf(portal.EINVALID, "this invitation has already been accepted: %s is a member now; change their role with Manage instead", inv.Email)
	case store.InviteDeclined:
		return portal.Errorf(portal.EINVALID, "%s declined this invitation; invite the address again to send a new one", inv.Email)
	default:
		return portal.Errorf(portal.EINVALID, "this invitation was already cancelled; invite the address again to send a new one")
	}
}

// checkedInvite holds the checked fields of an InviteInput and the token of
// the link to mail.
type checkedInvite struct {
	email, first, last string
	hours              int
	token              string
}

// checkInviteInput checks what Invite and UpdateInvite share and makes the
// new link's token. A new invitation (create) needs the address and both
// names; a change may leave them out (empty: unchanged).
func checkInviteInput(in InviteInput, create bool) (f checkedInvite, err error) {
	if create || strings.TrimSpace(in.Email) != "" {
		if f.email, err = cleanEmail(in.Email); err != nil {
			return f, err
		}
	}
	if f.first, err = cleanName("first_name", in.FirstName, portal.MaxNameLen, create); err != nil {
		return f, err
	}
	if f.last, err = cleanName("last_name", in.LastName, portal.MaxNameLen, create); err != nil {
		return f, err
	}
	if f.hours, err = checkHours(in.Hours); err != nil {
		return f, err
	}
	if f.token, err = authn.NewToken(); err != nil {
		return f, fmt.Errorf("invitation link token: %w", err)
	}
	return f, nil
}

// Invite invites an address into the organization (Super Users only) and
// mails it the link. An open invitation of the same address is replaced:
// its link stops working and the new one is sent.
func (s *Service) Invite(ctx context.Context, a *Actor, orgID string, in InviteInput) (_ *Admin, err error) {
	defer wrap(&err, "Invite(%s)", orgID)
	if err := s.requireOrgAdmin(ctx, a, orgID, "invite administrators"); err != nil {
		return nil, err
	}
	f, err := checkInviteInput(in, true)
	if err != nil {
		return nil, err
	}
	email, first, last, hours, token := f.email, f.first, f.last, f.hours, f.token
	now := s.clock()
	var out *Admin
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		o, err := tx.GetOrg(ctx, orgID)
		if err != nil {
			return err
		}
		g, err := checkGrant(ctx, tx, orgID, in.Privileges)
		if err != nil {
			return err
		}
		if err := notMember(ctx, tx, orgID, o.Name, email); err != nil {
			return err
		}
		inv, err := tx.OpenInvite(ctx, orgID, email)
		var before map[string]any
		switch {
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			inv = &store.Invite{ID: newID(), OrgID: orgID, Email: email, Created: now, Status: store.InvitePending}
		case err != nil:
			return err
		default:
			before = inviteFields(inv)
		}
		inv.OrgName, inv.FirstName, inv.LastName, inv.Role, inv.Scope, inv.Sites = o.Name, first, last, g.Role, g.Scope(), g.Sites
		if err := s.sendInvite(ctx, w, a, inv, token, hours, now, before == nil); err != nil {
			return err
		}
		msg := "Invited " + email + " as " + guiRole(g.Role) + " (" + g.Describe() + ")"
		if before != nil {
			msg = "Re-sent the invitation of " + email + " as " + guiRole(g.Role) + " (" + g.Describe() + ")"
		}
		out = s.inviteAdmin(inv)
		return w.audit(ctx, a.User, a.IP, orgID, "", msg, before, inviteFields(inv))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sendInvite stores inv (created or renewed) with a new link and expiry
// and mails the link, within the mail limits.
func (s *Service) sendInvite(ctx context.Context, w *writer, a *Actor, inv *store.Invite, token string, hours int, now time.Time, create bool) error {
	tx := w.tx
	for _, k := range []limitKey{{limitInviteAddress, lower(inv.Email)}, {limitInviteOrg, inv.OrgID}} {
		if _, _, err := k.limit.record(ctx, tx, k.subject, now); err != nil {
			return err
		}
	}
	inv.TokenHash, inv.InvitedBy, inv.InvitedByName = authn.HashToken(token), a.User.ID, a.User.Name()
	inv.Hours, inv.Modified, inv.Expires = hours, now, now.Add(time.Duration(hours)*time.Hour)
	if create {
		if err := tx.CreateInvite(ctx, inv); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return portal.Errorf(portal.ECONFLICT, "%s was invited by someone else at the same moment; reload the list of administrators", inv.Email)
			}
			return err
		}
	} else if err := tx.RenewInvite(ctx, inv); err != nil {
		if errors.Is(err, store.ErrTokenSpent) {
			return portal.Errorf(portal.ECONFLICT, "the invitation of %s was just accepted, declined or cancelled; reload the list of administrators", inv.Email)
		}
		return err
	}
	g := Grant{Role: inv.Role, Sites: inv.Sites}
	return w.mail(ctx, inv.Email, "invite", mail.LinkData{Name: inv.FirstName, Email: inv.Email, Link: s.link("/invite?token=" + token),
		BaseURL: s.baseURL, ExpiresIn: validity(hours), OrgName: inv.OrgName, Role: guiRole(g.Role), Access: g.Describe(), By: a.User.Name()})
}

// orgInvite reads an invitation of the organization in tx.
func orgInvite(ctx context.Context, tx *store.Tx, orgID, inviteID string) (*store.Invite, error) {
	inv, err := tx.GetInvite(ctx, inviteID)
	if portal.ErrorCode(err) == portal.ENOTFOUND || err == nil && inv.OrgID != orgID {
		return nil, notFound("invitation")
	}
	if err != nil {
		return nil, err
	}
	if inv.Status != store.InvitePending {
		return nil, closedInvite(inv)
	}
	return inv, nil
}

// UpdateInvite changes an open invitation (pending or expired) and re-sends
// it with a new link and expiry (Super Users only). The address cannot
// change; names and privileges left out stay as they were.
func (s *Service) UpdateInvite(ctx context.Context, a *Actor, orgID, inviteID string, in InviteInput) (_ *Admin, err error) {
	defer wrap(&err, "UpdateInvite(%s, %s)", orgID, inviteID)
	if err := s.requireOrgAdmin(ctx, a, orgID, "change invitations"); err != nil {
		return nil, err
	}
	f, err := checkInviteInput(in, false)
	if err != nil {
		return nil, err
	}
	email, first, last, hours, token := f.email, f.first, f.last, f.hours, f.token
	now := s.clock()
	var out *Admin
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		inv, err := orgInvite(ctx, tx, orgID, inviteID)
		if err != nil {
			return err
		}
		if email != "" && !sameEmail(email, inv.Email) {
			return portal.Errorf(portal.EINVALID, "the address of an invitation cannot change: cancel this one and invite %s instead", email)
		}
		if err := notMember(ctx, tx, orgID, inv.OrgName, inv.Email); err != nil {
			return err
		}
		g := Grant{Role: inv.Role, Sites: inv.Sites}
		if in.Privileges != nil {
			if g, err = checkGrant(ctx, tx, orgID, in.Privileges); err != nil {
				return err
			}
		} else if inv.Scope == portal.ScopeSite && len(inv.Sites) == 0 {
			return portal.Errorf(portal.EINVALID, "the sites of this invitation were deleted: choose its sites again")
		}
		before := inviteFields(inv)
		if first != "" {
			inv.FirstName = first
		}
		if last != "" {
			inv.LastName = last
		}
		inv.Role, inv.Scope, inv.Sites = g.Role, g.Scope(), g.Sites
		hours := hours
		if in.Hours == nil && inv.Hours >= 1 && inv.Hours <= MaxInviteHours {
			hours = inv.Hours // re-sent with the validity it was given
		}
		if err := s.sendInvite(ctx, w, a, inv, token, hours, now, false); err != nil {
			return err
		}
		out = s.inviteAdmin(inv)
		return w.audit(ctx, a.User, a.IP, orgID, "", "Re-sent the invitation of "+inv.Email+" as "+guiRole(g.Role)+" ("+g.Describe()+")", before, inviteFields(inv))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelInvite cancels an open invitation: its link stops working (Super
// Users only).
func (s *Service) CancelInvite(ctx context.Context, a *Actor, orgID, inviteID string) (err error) {
	defer wrap(&err, "CancelInvite(%s, %s)", orgID, inviteID)
	if err := s.requireOrgAdmin(ctx, a, orgID, "cancel invitations"); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		inv, err := orgInvite(ctx, tx, orgID, inviteID)
		if err != nil {
			return err
		}
		if err := tx.CloseInvite(ctx, inv.ID, "", store.InviteCancelled, a.User.ID, s.clock(), false); err != nil {
			if errors.Is(err, store.ErrTokenSpent) {
				return portal.Errorf(portal.ECONFLICT, "the invitation of %s was just accepted, declined or cancelled; reload the list of administrators", inv.Email)
			}
			return err
		}
		return w.audit(ctx, a.User, a.IP, orgID, "", "Cancelled the invitation of "+inv.Email, inviteFields(inv), nil)
	})
}

// ---- the invitee's side ----

// InviteInfo is what the page behind an invitation link shows.
type InviteInfo struct {
	*Admin
	HasAccount bool             // the invited address has an account: log in to answer
	Policy     *EffectivePolicy // the password rules of a new account (the organization's)
}

// For reports whether the invitation is addressed to u.
func (i *InviteInfo) For(u *portal.User) bool { return u != nil && sameEmail(u.Email, i.Email) }

func invalidInvite() error {
	return portal.Errorf(portal.ENOTFOUND, "this invitation link is invalid or was replaced by a newer one: use the link of the latest invitation mail")
}

// inviteByToken finds the invitation of a link and checks that it can be
// answered now.
func (s *Service) inviteByToken(ctx context.Context, token string) (*store.Invite, error) {
	if token == "" || len(token) > 128 {
		return nil, invalidInvite()
	}
	inv, err := s.db.GetInviteByToken(ctx, authn.HashToken(token))
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, invalidInvite()
	}
	if err != nil {
		return nil, err
	}
	if err := s.answerable(inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// AcceptedOrgField is the field of the error of an already accepted
// invitation that holds the id of its organization, to link to it.
const AcceptedOrgField = "accepted_org_id"

// answerable checks that an invitation can be answered now.
func (s *Service) answerable(inv *store.Invite) error {
	switch inv.Status {
	case store.InviteAccepted:
		return &portal.Error{Code: portal.EINVALID, Fields: map[string]any{AcceptedOrgField: inv.OrgID},
			Message: fmt.Sprintf("this invitation has already been accepted: open %s from your organizations", inv.OrgName)}
	case store.InviteDeclined:
		return portal.Errorf(portal.EINVALID, "this invitation was declined; ask a Super User of %s to invite you again", inv.OrgName)
	case store.InviteCancelled:
		return portal.Errorf(portal.EINVALID, "this invitation was cancelled by a Super User of %s", inv.OrgName)
	}
	if !s.clock().Before(inv.Expires) {
		return portal.Errorf(portal.EINVALID, "this invitation has expired; ask a Super User of %s to send a new one", inv.OrgName)
	}
	return nil
}

// MyInvites lists the open, unexpired invitations addressed to the
// signed-in user, oldest first: what their home page offers to answer.
func (s *Service) MyInvites(ctx context.Context, a *Actor) (_ []*Admin, err error) {
	defer wrap(&err, "MyInvites")
	invs, err := s.db.ListOpenInvitesFor(ctx, a.User.Email)
	if err != nil {
		return nil, err
	}
	var out []*Admin
	for _, inv := range invs {
		if s.clock().Before(inv.Expires) {
			out = append(out, s.inviteAdmin(inv))
		}
	}
	return out, nil
}

// myInvite is an invitation by id that the signed-in user may answer: one
// addressed to them, open and unexpired. Another's is not found.
func (s *Service) myInvite(ctx context.Context, a *Actor, inviteID string) (*store.Invite, error) {
	inv, err := s.db.GetInvite(ctx, inviteID)
	if err == nil && !sameEmail(a.User.Email, inv.Email) {
		err = portal.Errorf(portal.ENOTFOUND, "invitation not found")
	}
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return nil, portal.Errorf(portal.ENOTFOUND, "there is no invitation %s for %s: reload the page", inviteID, a.User.Email)
	}
	if err != nil {
		return nil, err
	}
	if err := s.answerable(inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// AcceptMyInvite accepts, by id, an invitation addressed to the signed-in
// user (from their home page, without the mailed link).
func (s *Service) AcceptMyInvite(ctx context.Context, a *Actor, inviteID string) (_ *portal.Org, err error) {
	defer wrap(&err, "AcceptMyInvite")
	inv, err := s.myInvite(ctx, a, inviteID)
	if err != nil {
		return nil, err
	}
	return s.acceptAs(ctx, a, inv)
}

// DeclineMyInvite declines, by id, an invitation addressed to the
// signed-in user (from their home page).
func (s *Service) DeclineMyInvite(ctx context.Context, a *Actor, inviteID string) (_ *Admin, err error) {
	defer wrap(&err, "DeclineMyInvite")
	inv, err := s.myInvite(ctx, a, inviteID)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		return s.declineIn(ctx, tx, w, inv, a.User, a.IP)
	})
	if err != nil {
		return nil, err
	}
	return s.inviteAdmin(inv), nil
}

// declineIn closes an invitation as declined by who, in tx.
func (s *Service) declineIn(ctx context.Context, tx *store.Tx, w *writer, inv *store.Invite, who *portal.User, ip string) error {
	by := ""
	if who.ID != portal.NilID {
		by = who.ID
	}
	if err := tx.CloseInvite(ctx, inv.ID, inv.TokenHash, store.InviteDeclined, by, s.clock(), true); err != nil {
		if errors.Is(err, store.ErrTokenSpent) {
			return portal.Errorf(portal.EINVALID, "this invitation has just been used, replaced or cancelled, or has expired; nothing was changed")
		}
		return err
	}
	return w.audit(ctx, who, ip, inv.OrgID, "", "Declined the invitation to "+inv.OrgName, inviteFields(inv), nil)
}

// notForYou is the refusal of a link followed by another account.
func notForYou(inv *store.Invite, u *portal.User) error {
	return &portal.Error{Code: portal.EFORBIDDEN, Fields: map[string]any{"invited_email": inv.Email},
		Message: fmt.Sprintf("this invitation is for %s, but you are logged in as %s: log out, then open the link again as %s; nothing was changed", inv.Email, u.Email, inv.Email)}
}

// invitePolicy is the password policy a new account created from the
// invitation must follow: the organization's (history does not apply).
func (s *Service) invitePolicy(ctx context.Context, inv *store.Invite) (*EffectivePolicy, error) {
	p, err := s.db.GetOrgPasswordPolicy(ctx, inv.OrgID)
	if err != nil {
		return nil, err
	}
	ep := combinePolicies([]store.OrgPolicy{{OrgID: inv.OrgID, OrgName: inv.OrgName, Policy: p}})
	rules := ep.Rules[:0:0]
	for _, r := range ep.Rules {
		if r.Key != RuleHistory {
			rules = append(rules, r)
		}
	}
	ep.Rules, ep.HistoryCount = rules, 0
	return ep, nil
}

// CheckInvite returns what an invitation link offers, without using it.
func (s *Service) CheckInvite(ctx context.Context, token string) (_ *InviteInfo, err error) {
	defer wrap(&err, "CheckInvite")
	inv, err := s.inviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	info := &InviteInfo{Admin: s.inviteAdmin(inv)}
	_, err = s.db.GetUserByEmail(ctx, inv.Email)
	switch {
	case err == nil:
		info.HasAccount = true
	case portal.ErrorCode(err) != portal.ENOTFOUND:
		return nil, err
	}
	if info.Policy, err = s.invitePolicy(ctx, inv); err != nil {
		return nil, err
	}
	return info, nil
}

// joinFromInvite closes the invitation as accepted by u and gives u its
// role, in tx. The invitation's sites are read again: one whose sites were
// all deleted meanwhile cannot be accepted.
func (s *Service) joinFromInvite(ctx context.Context, w *writer, inv *store.Invite, tokenHash string, u *portal.User, ip string, now time.Time, message string) error {
	tx := w.tx
	privs, err := tx.ListPrivileges(ctx, u.ID)
	if err != nil {
		return err
	}
	if g, ok := grantOf(privs, inv.OrgID); ok {
		return portal.Errorf(portal.EINVALID, "you are already a member of %s (%s): ask one of its Super Users to change your role; nothing was changed", inv.OrgName, guiRole(g.Role))
	}
	if err := tx.CloseInvite(ctx, inv.ID, tokenHash, store.InviteAccepted, u.ID, now, true); err != nil {
		if errors.Is(err, store.ErrTokenSpent) {
			return portal.Errorf(portal.EINVALID, "this invitation has just been used, replaced or cancelled, or has expired; nothing was changed")
		}
		return err
	}
	cur, err := tx.GetInvite(ctx, inv.ID)
	if err != nil {
		return err
	}
	g := Grant{Role: cur.Role, Sites: cur.Sites}
	if cur.Scope == portal.ScopeSite && len(cur.Sites) == 0 {
		return portal.Errorf(portal.EINVALID, "the sites of this invitation no longer exist; ask a Super User of %s for a new invitation", inv.OrgName)
	}
	for _, p := range privilegesOf(g, u.ID, inv.OrgID, inv.OrgName) {
		if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
			return err
		}
	}
	after := g.fields()
	after["email"] = u.Email
	return w.audit(ctx, u, ip, inv.OrgID, "", message+" "+inv.OrgName+" as "+guiRole(g.Role)+" ("+g.Describe()+")", nil, after)
}

// AcceptInvite accepts an invitation for the signed-in user, who must be
// the invited address: they join the organization with its role.
func (s *Service) AcceptInvite(ctx context.Context, a *Actor, token string) (_ *portal.Org, err error) {
	defer wrap(&err, "AcceptInvite")
	inv, err := s.inviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if !sameEmail(a.User.Email, inv.Email) {
		return nil, notForYou(inv, a.User)
	}
	return s.acceptAs(ctx, a, inv)
}

// DeclineInvite declines an invitation. An invited address that has an
// account must be signed in as that account (a is nil when nobody is);
// one without an account may decline with the link alone.
func (s *Service) DeclineInvite(ctx context.Context, a *Actor, token string, c Client) (_ *InviteInfo, err error) {
	defer wrap(&err, "DeclineInvite")
	inv, err := s.inviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	who := &portal.User{ID: portal.NilID, Email: inv.Email, FirstName: inv.FirstName, LastName: inv.LastName}
	if a != nil {
		if !sameEmail(a.User.Email, inv.Email) {
			return nil, notForYou(inv, a.User)
		}
		who = a.User
	} else if _, err := s.db.GetUserByEmail(ctx, inv.Email); err == nil {
		return nil, portal.Errorf(portal.EUNAUTHORIZED, "log in as %s to decline this invitation", inv.Email)
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		return s.declineIn(ctx, tx, w, inv, who, c.IP)
	})
	if err != nil {
		return nil, err
	}
	return &InviteInfo{Admin: s.inviteAdmin(inv)}, nil
}

// InviteSignUp is a new account created from an invitation link.
type InviteSignUp struct {
	FirstName string
	LastName  string
	Password  string
}

// SignUpFromInvite creates the account of an invited address that has
// none: the link proves the address, so the account is verified at once,
// with the password chosen here (under the organization's password
// policy), and joins the organization. The new user is signed in.
func (s *Service) SignUpFromInvite(ctx context.Context, token string, in InviteSignUp, c Client) (_ *LoginResult, _ *portal.Org, err error) {
	defer wrap(&err, "SignUpFromInvite")
	inv, err := s.inviteByToken(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.db.GetUserByEmail(ctx, inv.Email); err == nil {
		return nil, nil, &portal.Error{Code: portal.EINVALID, Fields: map[string]any{"account_exists": true},
			Message: fmt.Sprintf("%s already has a Portal account: log in to accept the invitation", inv.Email)}
	} else if portal.ErrorCode(err) != portal.ENOTFOUND {
		return nil, nil, err
	}
	first, err := cleanName("first_name", in.FirstName, portal.MaxNameLen, true)
	if err != nil {
		return nil, nil, err
	}
	last, err := cleanName("last_name", in.LastName, portal.MaxNameLen, true)
	if err != nil {
		return nil, nil, err
	}
	ep, err := s.invitePolicy(ctx, inv)
	if err != nil {
		return nil, nil, err
	}
	password, err := checkPassword(ctx, in.Password, ep, &personalData{first: first, last: last, email: inv.Email}) // ep names the organization
	if err != nil {
		return nil, nil, err
	}
	hash, err := s.hasher.Hash(ctx, password) // outside the transaction
	if err != nil {
		return nil, nil, err
	}
	sessToken, err := authn.NewToken()
	if err != nil {
		return nil, nil, err
	}
	csrf, err := authn.NewToken()
	if err != nil {
		return nil, nil, err
	}
	now := s.clock()
	u := &portal.User{ID: newID(), Email: inv.Email, FirstName: first, LastName: last, PasswordHash: hash,
		EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
	var o *portal.Org
	var sess *portal.Session
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return portal.Errorf(portal.EINVALID, "%s already has a Portal account: log in to accept the invitation", inv.Email)
			}
			return err
		}
		if err := w.audit(ctx, u, c.IP, inv.OrgID, "", "Signed up from an invitation", nil,
			map[string]any{"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName}); err != nil {
			return err
		}
		if err := s.joinFromInvite(ctx, w, inv, inv.TokenHash, u, c.IP, now, "Accepted the invitation to"); err != nil {
			return err
		}
		if o, err = tx.GetOrg(ctx, inv.OrgID); err != nil {
			return err
		}
		limits, err := userSessionLimits(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		sess = &portal.Session{ID: newID(), TokenHash: authn.HashToken(sessToken), UserID: u.ID, CSRFToken: csrf,
			CreatedTime: now, LastSeenTime: now, ExpiresTime: limits.expires(now, now), AuthTime: now,
			IP: c.IP, UserAgent: portal.Truncate(c.UserAgent, 512)}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Logged in", nil, nil)
	})
	if err != nil {
		return nil, nil, err
	}
	// The address has its account: its pending sign-ups are void (in a
	// transaction of their own, as VerifyRegistration does).
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CloseRegistrations(ctx, u.Email, now) }); err != nil {
		s.log.Warn("closing sign-ups of an invited address", "err", err)
	}
	return &LoginResult{Token: sessToken, Session: sess, User: u}, o, nil
}

// acceptAs joins the actor to inv's organization, one transaction with its
// audit entry, and returns the organization (AcceptMyInvite, and the
// signed-in acceptance of a link).
func (s *Service) acceptAs(ctx context.Context, a *Actor, inv *store.Invite) (*portal.Org, error) {
	now := s.clock()
	var o *portal.Org
	err := s.write(ctx, func(tx *store.Tx, w *writer) (err error) {
		if err := s.joinFromInvite(ctx, w, inv, inv.TokenHash, a.User, a.IP, now, "Accepted the invitation to"); err != nil {
			return err
		}
		o, err = tx.GetOrg(ctx, inv.OrgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
