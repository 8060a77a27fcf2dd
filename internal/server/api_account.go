package server

import (
	"net/http"

	"portal"
	"portal/internal/app"
)

type registerRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Password  string `json:"password"`
	OrgName   string `json:"org_name"`
}

func (s *server) apiRegister(w http.ResponseWriter, r *http.Request) error {
	var in registerRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	err := s.svc.Register(r.Context(), app.RegisterInput{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Password: in.Password, OrgName: in.OrgName}, client(r))
	if err != nil {
		return err
	}
	return ok(w, detail("check your email: we sent a link to verify your address"))
}

func (s *server) apiVerifyRegister(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.VerifyRegistration(r.Context(), r.PathValue("token"), client(r)); err != nil {
		return err
	}
	return ok(w, detail("your email address is verified; you can log in now"))
}

type emailRequest struct {
	Email string `json:"email"`
}

// apiResendVerification is our own: POST /api/v1/register/resend {email}.
func (s *server) apiResendVerification(w http.ResponseWriter, r *http.Request) error {
	var in emailRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.ResendVerification(r.Context(), in.Email, client(r)); err != nil {
		return err
	}
	return ok(w, detail("if that address has an account waiting for verification, we sent a new link"))
}

type loginRequest struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	TwoFactor string `json:"two_factor"`
}

type loginResponse struct {
	Email             string `json:"email"`
	TwoFactorRequired bool   `json:"two_factor_required"`
	TwoFactorPassed   bool   `json:"two_factor_passed"`
}

func (s *server) apiLogin(w http.ResponseWriter, r *http.Request) error {
	var in loginRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	// With two-factor authentication the session owes a code, unless it
	// came in the body (api_twofactor.go).
	res, err := s.svc.LoginWithCode(r.Context(), in.Email, in.Password, in.TwoFactor, loginClient(r))
	if err != nil {
		return err
	}
	s.setSessionCookies(w, res)
	return ok(w, loginResponse{Email: res.User.Email, TwoFactorRequired: res.TwoFactorRequired, TwoFactorPassed: res.Session.TwoFactorPassed})
}

func (s *server) apiLogout(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	if err := s.svc.Logout(r.Context(), a); err != nil {
		return err
	}
	s.clearSessionCookies(w)
	return ok(w, map[string]any{})
}

// privilegeJSON is the Mist admin_privilege object.
type privilegeJSON struct {
	Scope   string `json:"scope"`
	Role    string `json:"role"`
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
	SiteID  string `json:"site_id,omitempty"`
	Name    string `json:"name"`
}

// selfJSON is the Mist admin object with the login-state keys.
type selfJSON struct {
	AdminID              string          `json:"admin_id"`
	Email                string          `json:"email"`
	FirstName            string          `json:"first_name"`
	LastName             string          `json:"last_name"`
	Phone                string          `json:"phone"`
	EnableTwoFactor      bool            `json:"enable_two_factor"`
	TwoFactorVerified    bool            `json:"two_factor_verified"`
	OAuthGoogle          bool            `json:"oauth_google"`
	ViaSSO               bool            `json:"via_sso"`
	PasswordModifiedTime int64           `json:"password_modified_time"`
	SessionExpiry        int             `json:"session_expiry"`
	Tags                 []string        `json:"tags"`
	Privileges           []privilegeJSON `json:"privileges"`
	TwoFactorRequired    bool            `json:"two_factor_required"`
	TwoFactorPassed      bool            `json:"two_factor_passed"`
	Phone2               string          `json:"phone2"`
	// Portal extensions: display preferences.
	MACFormat string `json:"mac_format"`
	Hour24    bool   `json:"hour24"`
	Timezone  string `json:"timezone"`
}

func toSelfJSON(me *app.Self) selfJSON {
	u := me.User
	out := selfJSON{AdminID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Phone: u.Phone,
		PasswordModifiedTime: u.PasswordModifiedTime.Unix(), SessionExpiry: me.SessionExpiry, Tags: []string{}, Privileges: []privilegeJSON{},
		Phone2: u.Phone2, MACFormat: u.MACFormat, Hour24: u.Hour24, Timezone: u.Timezone, OAuthGoogle: me.Google != nil}
	for _, p := range me.Privileges {
		pj := privilegeJSON{Scope: p.Scope, Role: p.Role, OrgID: p.OrgID, OrgName: p.OrgName, SiteID: p.SiteID, Name: p.OrgName}
		if p.Scope == portal.ScopeSite {
			pj.Name = p.SiteName
		}
		out.Privileges = append(out.Privileges, pj)
	}
	return out
}

func (s *server) apiSelf(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	if a.TwoFactor.Pending { // nothing of the account before the second factor (api_twofactor.go)
		return ok(w, pendingSelf(a))
	}
	me, err := s.svc.GetSelf(r.Context(), a)
	if err != nil {
		return err
	}
	return ok(w, withTwoFactor(toSelfJSON(me), a))
}

type auditJSON struct {
	ID        string         `json:"id"`
	Timestamp float64        `json:"timestamp"`
	AdminID   string         `json:"admin_id"`
	AdminName string         `json:"admin_name"`
	OrgID     string         `json:"org_id"`
	SiteID    string         `json:"site_id"`
	Message   string         `json:"message"`
	Before    map[string]any `json:"before,omitempty"`
	After     map[string]any `json:"after,omitempty"`
	SrcIP     string         `json:"src_ip,omitempty"`
	ForSite   bool           `json:"for_site,omitempty"` // the organization's log (api_orglogs.go)
	// APITokenName: the change was made with this API token (ours).
	APITokenName string `json:"api_token_name,omitempty"`
}

func (s *server) apiSelfLogs(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	q, err := logQuery(r)
	if err != nil {
		return err
	}
	res, err := s.svc.SelfLogs(r.Context(), a, q)
	if err != nil {
		return err
	}
	out := struct {
		Start   int64       `json:"start"`
		End     int64       `json:"end"`
		Limit   int         `json:"limit"`
		Page    int         `json:"page"`
		Total   int         `json:"total"`
		Results []auditJSON `json:"results"`
	}{Start: res.Start.Unix(), End: res.End.Unix(), Limit: res.Page.Limit, Page: res.Page.Page, Total: res.Total, Results: []auditJSON{}}
	for _, e := range res.Results {
		out.Results = append(out.Results, toAuditJSON(e))
	}
	setPageHeaders(w, res.Page, res.Total)
	return ok(w, out)
}

func logQuery(r *http.Request) (app.LogQuery, error) {
	var q app.LogQuery
	var err error
	if q.Start, err = queryInt(r, "start"); err != nil {
		return q, err
	}
	if q.End, err = queryInt(r, "end"); err != nil {
		return q, err
	}
	q.Duration = r.URL.Query().Get("duration")
	q.Page, err = queryPage(r)
	return q, err
}

// selfRequest is the body of PUT /api/v1/self.
type selfRequest struct {
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
	Phone     *string `json:"phone"`
	Phone2    *string `json:"phone2"`
	MACFormat *string `json:"mac_format"`
	Hour24    *bool   `json:"hour24"`
	Timezone  *string `json:"timezone"`
	// The password (app/password.go).
	Password    *string `json:"password"`
	OldPassword *string `json:"old_password"`
	// Two-factor authentication (api_twofactor.go, app/twofactor.go):
	// turning it off needs current_password and two_factor.
	EnableTwoFactor *bool   `json:"enable_two_factor"`
	CurrentPassword *string `json:"current_password"`
	TwoFactor       *string `json:"two_factor"`
}

func (in selfRequest) input() app.SelfInput {
	return app.SelfInput{FirstName: in.FirstName, LastName: in.LastName, Phone: in.Phone, Phone2: in.Phone2,
		MACFormat: in.MACFormat, Hour24: in.Hour24, Timezone: in.Timezone, Password: in.Password, OldPassword: in.OldPassword,
		EnableTwoFactor: in.EnableTwoFactor, CurrentPassword: in.CurrentPassword, TwoFactor: in.TwoFactor}
}

func (s *server) apiUpdateSelf(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	var in selfRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if _, err := s.svc.UpdateSelf(r.Context(), a, in.input()); err != nil {
		return err
	}
	return s.apiSelf(w, r, a)
}
