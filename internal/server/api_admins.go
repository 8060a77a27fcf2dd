package server

import (
	"net/http"

	"portal/internal/app"
)

// Administrators and invitations, on Mist's paths: GET
// /api/v1/orgs/{org_id}/admins, PUT/DELETE …/admins/{admin_id}, POST
// …/invites, PUT/DELETE …/invites/{invite_id}, POST
// /api/v1/invite/verify/{token}. Decline is ours.

// privilegeRequest is one item of Mist's admin.privileges in a request.
type privilegeRequest struct {
	Scope  string `json:"scope"`
	Role   string `json:"role"`
	OrgID  string `json:"org_id"`
	SiteID string `json:"site_id"`
}

// adminRequest is Mist's admin object as an invitation or a change of role.
type adminRequest struct {
	Email      string             `json:"email"`
	FirstName  string             `json:"first_name"`
	LastName   string             `json:"last_name"`
	Privileges []privilegeRequest `json:"privileges"`
	Hours      *int               `json:"hours"`
}

func (in adminRequest) privileges() []app.PrivilegeInput {
	if in.Privileges == nil {
		return nil
	}
	out := make([]app.PrivilegeInput, len(in.Privileges))
	for i, p := range in.Privileges {
		out[i] = app.PrivilegeInput{Scope: p.Scope, Role: p.Role, OrgID: p.OrgID, SiteID: p.SiteID}
	}
	return out
}

func (in adminRequest) invite() app.InviteInput {
	return app.InviteInput{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Privileges: in.privileges(), Hours: in.Hours}
}

// adminJSON is Mist's admin object for a member, or for an invitation
// (invite_id instead of admin_id). status, invite_id, created_time and
// invited_by are Portal extensions.
type adminJSON struct {
	AdminID     string          `json:"admin_id,omitempty"`
	InviteID    string          `json:"invite_id,omitempty"`
	Email       string          `json:"email"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Privileges  []privilegeJSON `json:"privileges"`
	Status      string          `json:"status"`
	ExpireTime  int64           `json:"expire_time,omitempty"`
	Hours       int             `json:"hours,omitempty"`
	CreatedTime int64           `json:"created_time,omitempty"`
	InvitedBy   string          `json:"invited_by,omitempty"`
}

func toAdminJSON(ad *app.Admin) adminJSON {
	out := adminJSON{AdminID: ad.UserID, InviteID: ad.InviteID, Email: ad.Email, FirstName: ad.FirstName, LastName: ad.LastName,
		Status: ad.Status, Privileges: []privilegeJSON{}}
	for _, p := range ad.Privileges {
		name := ad.OrgName
		if p.SiteID != "" {
			name = p.SiteName
		}
		out.Privileges = append(out.Privileges, privilegeJSON{Scope: p.Scope, Role: p.Role, OrgID: ad.OrgID, OrgName: ad.OrgName, SiteID: p.SiteID, Name: name})
	}
	if ad.IsInvite() {
		out.ExpireTime, out.Hours, out.CreatedTime, out.InvitedBy = ad.Expires.Unix(), ad.Hours, ad.Created.Unix(), ad.InvitedBy
	}
	return out
}

func (s *server) apiListAdmins(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	p, err := queryPage(r)
	if err != nil {
		return err
	}
	list, err := s.svc.ListAdmins(r.Context(), a, orgID)
	if err != nil {
		return err
	}
	from := min(len(list), (p.Page-1)*p.Limit)
	out := []adminJSON{}
	for _, ad := range list[from:min(len(list), from+p.Limit)] {
		out = append(out, toAdminJSON(ad))
	}
	setPageHeaders(w, p, len(list))
	return ok(w, out)
}

func (s *server) apiUpdateAdmin(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, id, err := orgPathIDs(r, "admin_id", "administrator")
	if err != nil {
		return err
	}
	var in adminRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ad, err := s.svc.UpdateAdmin(r.Context(), a, orgID, id, in.privileges())
	if err != nil {
		return err
	}
	return ok(w, toAdminJSON(ad))
}

func (s *server) apiRevokeAdmin(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, id, err := orgPathIDs(r, "admin_id", "administrator")
	if err != nil {
		return err
	}
	if err := s.svc.RevokeAdmin(r.Context(), a, orgID, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}

func (s *server) apiInvite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in adminRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ad, err := s.svc.Invite(r.Context(), a, orgID, in.invite())
	if err != nil {
		return err
	}
	return ok(w, toAdminJSON(ad))
}

func (s *server) apiUpdateInvite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, id, err := orgPathIDs(r, "invite_id", "invitation")
	if err != nil {
		return err
	}
	var in adminRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	ad, err := s.svc.UpdateInvite(r.Context(), a, orgID, id, in.invite())
	if err != nil {
		return err
	}
	return ok(w, toAdminJSON(ad))
}

func (s *server) apiCancelInvite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, id, err := orgPathIDs(r, "invite_id", "invitation")
	if err != nil {
		return err
	}
	if err := s.svc.CancelInvite(r.Context(), a, orgID, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}

// orgPathIDs reads the organization's id and the id of one of its
// administrators or invitations (the path parameter name) from the path.
func orgPathIDs(r *http.Request, name, what string) (orgID, id string, err error) {
	if orgID, err = pathID(r, "org_id", "organization"); err != nil {
		return "", "", err
	}
	if id, err = pathID(r, name, what); err != nil {
		return "", "", err
	}
	return orgID, id, nil
}

// apiAcceptInvite is Mist's POST /api/v1/invite/verify/{token}: the
// signed-in user, who must be the invited address, joins the organization.
func (s *server) apiAcceptInvite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	o, err := s.svc.AcceptInvite(r.Context(), a, r.PathValue("token"))
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"detail": "you are now a member of " + o.Name, "org_id": o.ID, "org_name": o.Name})
}

// apiDeclineInvite is ours: POST /api/v1/invite/decline/{token}.
func (s *server) apiDeclineInvite(w http.ResponseWriter, r *http.Request) error {
	a, err := s.optionalActor(r, true) // no session needed, as in the GUI
	if err != nil {
		return err
	}
	info, err := s.svc.DeclineInvite(r.Context(), a, r.PathValue("token"), client(r))
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"detail": "you declined the invitation to " + info.OrgName, "org_id": info.OrgID, "org_name": info.OrgName})
}
