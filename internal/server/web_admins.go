package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"portal"
	"portal/internal/app"
)

// Organization → Administrators (Super Users only): the members and open
// invitations, the Invite form, a Manage page per row; and the pages behind
// an invitation link, for the invitee.

// roleChoice is one option of the role menu.
type roleChoice struct {
	Value, Name, Hint string
}

// roleChoices lists the roles in the order the menu shows them, each with
// what it may do: from the service's grants table (roleGrantsHint), and
// the scope an invitation gives it.
var roleChoices = func() []roleChoice {
	scope := map[string]string{portal.RoleAdmin: "always the whole organization", portal.RoleHelpdesk: "needs at least one site"}
	var out []roleChoice
	for _, role := range []string{portal.RoleAdmin, portal.RoleWrite, portal.RoleRead, portal.RoleHelpdesk, portal.RoleInstaller} {
		hint := roleGrantsHint(role)
		if sc := scope[role]; sc != "" {
			hint += "; " + sc
		}
		out = append(out, roleChoice{role, portal.RoleNames[role], hint})
	}
	return out
}()

// roleGrantsHint says what the role may do in the organization, as the
// grants table (app.RoleGrants) has it: "reads only", or what it may do
// besides reading.
func roleGrantsHint(role string) string {
	can := func(act app.Action) bool { return app.RoleGrants(role, portal.ScopeOrg, act) }
	var does []string
	if can(app.ActManageOrg) {
		does = append(does, "manages the organization, its members and settings")
	}
	var sites []string
	for _, v := range []struct {
		act  app.Action
		verb string
	}{{app.ActCreateSite, "creates"}, {app.ActUpdateSite, "changes"}, {app.ActDeleteSite, "deletes"}} {
		if can(v.act) {
			sites = append(sites, v.verb)
		}
	}
	if n := len(sites); n > 0 {
		verbs := sites[0]
		if n > 1 {
			verbs = strings.Join(sites[:n-1], ", ") + " and " + sites[n-1]
		}
		does = append(does, verbs+" sites")
	}
	if can(app.ActManageInventory) {
		does = append(does, "manages the inventory")
	}
	if len(does) == 0 {
		return "reads only"
	}
	return "reads; " + strings.Join(does, "; ")
}

// adminsView is the data of the Administrators and Manage pages.
type adminsView struct {
	Org    *portal.Org
	Admins []*app.Admin
	Admin  *app.Admin // the Manage page's row
	Sites  []*portal.Site
	Roles  []roleChoice
	// The role and sites the form shows: as stored, or as typed after an error.
	Role    string
	Checked map[string]bool
	// LastSuperUser: the Manage page's member is the organization's last
	// Super User, whose role cannot be lowered (app.LastSuperUser).
	LastSuperUser bool
}

// loadAdmins fills the view of the organization's Administrators page.
func (s *server) loadAdmins(r *http.Request, v *view, a *app.Actor, orgID string) (*adminsView, error) {
	list, err := s.svc.ListAdmins(r.Context(), a, orgID)
	if err != nil {
		return nil, err
	}
	o, err := s.svc.GetOrg(r.Context(), a, orgID)
	if err != nil {
		return nil, err
	}
	sites, _, err := s.svc.ListSites(r.Context(), a, orgID, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return nil, err
	}
	v.CurrentOrg = orgID
	return &adminsView{Org: o, Admins: list, Sites: sites, Roles: roleChoices, Checked: map[string]bool{}}, nil
}

// formGrant reads the role menu and site boxes into privileges: no site
// chosen means the whole organization.
func formGrant(f url.Values) []app.PrivilegeInput {
	role := f.Get("role")
	sites := f["site"]
	if len(sites) == 0 {
		return []app.PrivilegeInput{{Scope: portal.ScopeOrg, Role: role}}
	}
	out := make([]app.PrivilegeInput, len(sites))
	for i, id := range sites {
		out[i] = app.PrivilegeInput{Scope: portal.ScopeSite, Role: role, SiteID: id}
	}
	return out
}

// typed makes the form show what was posted.
func (av *adminsView) typed(f url.Values) {
	av.Role = f.Get("role")
	for _, id := range f["site"] {
		av.Checked[id] = true
	}
}

func (s *server) webAdmins(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderAdmins(w, r, v, a, http.StatusOK)
}

func (s *server) renderAdmins(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	av, err := s.loadAdmins(r, v, a, orgID)
	if err != nil {
		return err
	}
	av.Role = portal.RoleRead
	if status != http.StatusOK {
		av.typed(v.Form)
	}
	v.Title, v.Data = "Administrators · "+av.Org.Name, av
	s.render(w, r, status, "admins", v)
	return nil
}

func (s *server) webInvite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	f := r.PostForm
	ad, err := s.svc.Invite(r.Context(), a, orgID, app.InviteInput{Email: f.Get("email"), FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Privileges: formGrant(f)})
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderAdmins(w, r, v, a, status) }, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	s.flash(w, "Invitation sent to "+ad.Email+" as "+ad.RoleName()+" ("+ad.Describe()+"). The link is valid for "+ad.Validity()+".")
	http.Redirect(w, r, "/orgs/"+orgID+"/admins", http.StatusSeeOther)
	return nil
}

// manageIDs reads the organization and row ids of a Manage request.
func manageIDs(r *http.Request) (orgID, id string, err error) {
	if orgID, err = pathID(r, "org_id", "organization"); err != nil {
		return "", "", err
	}
	if id, err = pathID(r, "id", "administrator or invitation"); err != nil {
		return "", "", err
	}
	return orgID, id, nil
}

func (s *server) webManageAdmin(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderManage(w, r, v, a, http.StatusOK)
}

func (s *server) renderManage(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int) error {
	orgID, id, err := manageIDs(r)
	if err != nil {
		return err
	}
	av, err := s.loadAdmins(r, v, a, orgID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(av.Admins, func(ad *app.Admin) bool { return ad.ID() == id })
	if i < 0 {
		return portal.Errorf(portal.ENOTFOUND, "administrator or invitation not found: it may have been revoked, accepted or cancelled meanwhile")
	}
	av.Admin = av.Admins[i]
	av.LastSuperUser = app.LastSuperUser(av.Admins, av.Admin)
	if status == http.StatusOK {
		av.Role = av.Admin.Role
		for _, site := range av.Admin.Sites {
			av.Checked[site.ID] = true
		}
	} else {
		av.typed(v.Form)
	}
	v.Title, v.Data = "Manage "+av.Admin.Email, av
	s.render(w, r, status, "admins_manage", v)
	return nil
}

func (s *server) webSaveAdmin(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, id, err := manageIDs(r)
	if err != nil {
		return err
	}
	ad, err := s.svc.UpdateAdmin(r.Context(), a, orgID, id, formGrant(r.PostForm))
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderManage(w, r, v, a, status) }, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	msg := "The role of " + ad.Email + " is now " + ad.RoleName() + " (" + ad.Describe() + ")."
	if ad.IsInvite() {
		msg = "Invitation of " + ad.Email + " changed to " + ad.RoleName() + " (" + ad.Describe() + ") and sent again. The new link is valid for " + ad.Validity() + "."
	}
	s.flash(w, msg)
	if id == a.User.ID && ad.Role != portal.RoleAdmin {
		// No longer a Super User: the Administrators page is not theirs.
		http.Redirect(w, r, "/orgs/"+orgID, http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/orgs/"+orgID+"/admins", http.StatusSeeOther)
	return nil
}

func (s *server) webReinvite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, id, err := manageIDs(r)
	if err != nil {
		return err
	}
	ad, err := s.svc.UpdateInvite(r.Context(), a, orgID, id, app.InviteInput{})
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderManage(w, r, v, a, status) }, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	s.flash(w, "Invitation sent again to "+ad.Email+". The previous link no longer works; the new one is valid for "+ad.Validity()+".")
	http.Redirect(w, r, "/orgs/"+orgID+"/admins", http.StatusSeeOther)
	return nil
}

func (s *server) webRevokeAdmin(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, id, err := manageIDs(r)
	if err != nil {
		return err
	}
	ad, err := s.svc.GetAdmin(r.Context(), a, orgID, id)
	if err != nil {
		return err
	}
	if ad.IsInvite() {
		err = s.svc.CancelInvite(r.Context(), a, orgID, id)
	} else {
		err = s.svc.RevokeAdmin(r.Context(), a, orgID, id)
	}
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderManage(w, r, v, a, status) }, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	if ad.IsInvite() {
		s.flash(w, "The invitation of "+ad.Email+" is cancelled; its link no longer works.")
	} else if id == a.User.ID {
		s.flash(w, "You left "+ad.OrgName+".")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	} else {
		s.flash(w, ad.Email+" no longer has access to "+ad.OrgName+".")
	}
	http.Redirect(w, r, "/orgs/"+orgID+"/admins", http.StatusSeeOther)
	return nil
}

// ---- the invitee's pages ----

// inviteView is the data of the pages behind an invitation link.
type inviteView struct {
	Token       string
	Info        *app.InviteInfo
	WrongUser   bool // signed in as another account
	Declined    bool
	Accepted    bool   // the link's invitation was already accepted
	AcceptedOrg string // then: the path of its organization
}

// webInviteLink is where the invitation link leads. Signed in as the
// invited address: Accept or Decline. Signed in as someone else: say so.
// Not signed in: log in first when the address has an account (and come
// back here), else sign up from the link.
func (s *server) webInviteLink(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(sessionCookie); err == nil {
		if _, err := s.authenticate(r, 0); err == nil || isRestriction(err) {
			s.page(s.webInviteAnswer).ServeHTTP(w, r)
			return
		}
	}
	s.public(s.webInviteAnonymous)(w, r)
}

func (s *server) webInviteAnswer(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	token := r.URL.Query().Get("token")
	info, err := s.svc.CheckInvite(r.Context(), token)
	if s.acceptedInvite(w, r, v, err) {
		return nil
	}
	if err != nil {
		return err
	}
	iv := &inviteView{Token: token, Info: info, WrongUser: !info.For(a.User)}
	v.Title, v.Data = "Invitation to "+info.OrgName, iv
	status := http.StatusOK
	if iv.WrongUser {
		status = http.StatusForbidden
	}
	s.render(w, r, status, "invite", v)
	return nil
}

func (s *server) webInviteAnonymous(w http.ResponseWriter, r *http.Request, v *view) error {
	token := r.URL.Query().Get("token")
	info, err := s.svc.CheckInvite(r.Context(), token)
	if s.acceptedInvite(w, r, v, err) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.HasAccount {
		next := "/invite?token=" + url.QueryEscape(token)
		s.flash(w, "Log in as "+info.Email+" to answer the invitation to "+info.OrgName+".")
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next)+"&email="+url.QueryEscape(info.Email), http.StatusSeeOther)
		return nil
	}
	return s.renderInviteSignUp(w, r, v, token, info, http.StatusOK)
}

func (s *server) renderInviteSignUp(w http.ResponseWriter, r *http.Request, v *view, token string, info *app.InviteInfo, status int) error {
	if status == http.StatusOK {
		v.Form = url.Values{"first_name": {info.FirstName}, "last_name": {info.LastName}}
	}
	v.Title, v.Data = "Join "+info.OrgName, &inviteView{Token: token, Info: info}
	s.render(w, r, status, "invite_signup", v)
	return nil
}

func (s *server) webAcceptInvite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	o, err := s.svc.AcceptInvite(r.Context(), a, r.PostForm.Get("token"))
	if err != nil {
		return err
	}
	s.flash(w, "Welcome to "+o.Name+": you accepted the invitation and are now a member.")
	http.Redirect(w, r, "/orgs/"+o.ID, http.StatusSeeOther)
	return nil
}

// webAcceptMyInvite accepts an invitation listed on the home page.
func (s *server) webAcceptMyInvite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	o, err := s.svc.AcceptMyInvite(r.Context(), a, r.PathValue("invite_id"))
	if err != nil {
		return err
	}
	s.flash(w, "Welcome to "+o.Name+": you accepted the invitation and are now a member.")
	http.Redirect(w, r, "/orgs/"+o.ID, http.StatusSeeOther)
	return nil
}

// webDeclineMyInvite declines an invitation listed on the home page.
func (s *server) webDeclineMyInvite(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	ad, err := s.svc.DeclineMyInvite(r.Context(), a, r.PathValue("invite_id"))
	if err != nil {
		return err
	}
	s.flash(w, "You declined the invitation to "+ad.OrgName+".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// acceptedInvite renders the page of a link whose invitation was already
// accepted, with a link to its organization; false for another error.
func (s *server) acceptedInvite(w http.ResponseWriter, r *http.Request, v *view, err error) bool {
	var e *portal.Error
	if !errors.As(err, &e) {
		return false
	}
	orgID, ok := e.Fields[app.AcceptedOrgField].(string)
	if !ok {
		return false
	}
	v.Title, v.Data = "Invitation already accepted", &inviteView{Accepted: true, AcceptedOrg: "/orgs/" + url.PathEscape(orgID)}
	s.render(w, r, http.StatusOK, "invite", v)
	return true
}

// optionalActor authenticates a request that needs no credentials but
// acts for the signed-in user when there is one (declining an
// invitation): nil without a session (or, on the API, an Authorization
// header) or with an expired session or unknown API token; other
// failures, such as a CSRF mismatch, are errors.
func (s *server) optionalActor(r *http.Request, api bool) (*app.Actor, error) {
	_, noCookie := r.Cookie(sessionCookie)
	header := api && r.Header.Get("Authorization") != ""
	if noCookie != nil && !header {
		return nil, nil
	}
	auth := s.authenticate
	if api {
		auth = s.authenticateAPI
	}
	a, err := auth(r, 0)
	switch {
	case err == nil:
		return a, nil
	case portal.ErrorCode(err) == portal.EUNAUTHORIZED:
		return nil, nil // an expired session or unknown token: as anyone holding the link
	}
	return nil, err
}

// webDeclineInvite declines as the signed-in user, or without a session
// for an address that has no account.
func (s *server) webDeclineInvite(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	a, err := s.optionalActor(r, false)
	if err != nil {
		return err
	}
	info, err := s.svc.DeclineInvite(r.Context(), a, r.PostForm.Get("token"), client(r))
	if err != nil {
		return err
	}
	if a != nil {
		s.flash(w, "You declined the invitation to "+info.OrgName+".")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	v.Title, v.Data = "Invitation declined", &inviteView{Info: &app.InviteInfo{Admin: info.Admin}, Declined: true}
	s.render(w, r, http.StatusOK, "invite", v)
	return nil
}

func (s *server) webInviteSignUp(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	f := r.PostForm
	token := f.Get("token")
	info, err := s.svc.CheckInvite(r.Context(), token)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderInviteSignUp(w, r, v, token, info, status) })
	}
	if err := confirmPassword(f, "new_password"); err != nil {
		return fail(err)
	}
	res, o, err := s.svc.SignUpFromInvite(r.Context(), token, app.InviteSignUp{FirstName: f.Get("first_name"), LastName: f.Get("last_name"),
		Password: f.Get("new_password")}, client(r))
	if err != nil {
		return fail(err)
	}
	s.setSessionCookies(w, res)
	s.flash(w, "Welcome to Portal, "+res.User.FirstName+"! Your account is ready and you are now a member of "+o.Name+".")
	http.Redirect(w, r, "/orgs/"+o.ID, http.StatusSeeOther)
	return nil
}
