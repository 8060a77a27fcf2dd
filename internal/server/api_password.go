package server

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	"portal"
	"portal/internal/app"
)

// passwordPolicyJSON is Mist's org_setting.password_policy with our own
// fields history_count, block_common and min_character_classes.
type passwordPolicyJSON struct {
	Enabled               bool `json:"enabled"`
	MinLength             int  `json:"min_length"`
	RequiresSpecialChar   bool `json:"requires_special_char"`
	RequiresTwoFactorAuth bool `json:"requires_two_factor_auth"`
	ExpiryInDays          int  `json:"expiry_in_days"`
	HistoryCount          int  `json:"history_count"`
	BlockCommon           bool `json:"block_common"`
	MinCharacterClasses   int  `json:"min_character_classes"`
	TwoFactorGraceDays    int  `json:"two_factor_grace_days"` // ours: days to enrol once 2FA is required
}

// orgSettingJSON is the part of Mist's org_setting that Portal keeps.
type orgSettingJSON struct {
	ID             string             `json:"id"`
	OrgID          string             `json:"org_id"`
	PasswordPolicy passwordPolicyJSON `json:"password_policy"`
	CreatedTime    int64              `json:"created_time"`
	ModifiedTime   int64              `json:"modified_time"`
}

func toOrgSettingJSON(st *app.OrgSetting) orgSettingJSON {
	return orgSettingJSON{ID: st.Org.ID, OrgID: st.Org.ID, PasswordPolicy: passwordPolicyJSON(st.PasswordPolicy),
		CreatedTime: st.Org.CreatedTime.Unix(), ModifiedTime: st.Org.ModifiedTime.Unix()}
}

// policyRequest is a password_policy in a PUT: fields left out are
// unchanged; freshness is Mist's older name of expiry_in_days.
type policyRequest struct {
	Enabled               *bool `json:"enabled"`
	MinLength             *int  `json:"min_length"`
	RequiresSpecialChar   *bool `json:"requires_special_char"`
	RequiresTwoFactorAuth *bool `json:"requires_two_factor_auth"`
	ExpiryInDays          *int  `json:"expiry_in_days"`
	Freshness             *int  `json:"freshness"`
	HistoryCount          *int  `json:"history_count"`
	BlockCommon           *bool `json:"block_common"`
	MinCharacterClasses   *int  `json:"min_character_classes"`
	TwoFactorGraceDays    *int  `json:"two_factor_grace_days"`
}

// orgSettingRequest is the body of PUT /api/v1/orgs/{org_id}/setting; the
// other Mist settings are not kept and are ignored.
type orgSettingRequest struct {
	PasswordPolicy *policyRequest `json:"password_policy"`
}

func (s *server) apiGetOrgSetting(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	st, err := s.svc.GetOrgSetting(r.Context(), a, id)
	if err != nil {
		return err
	}
	return ok(w, toOrgSettingJSON(st))
}

func (s *server) apiUpdateOrgSetting(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	// Who may change it is checked before the body is looked at.
	if _, err := s.svc.GetOrgSetting(r.Context(), a, id); err != nil {
		return err
	}
	var in orgSettingRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var st *app.OrgSetting
	if p := in.PasswordPolicy; p != nil {
		st, err = s.svc.UpdatePasswordPolicy(r.Context(), a, id, app.PolicyInput(*p))
	} else {
		st, err = s.svc.GetOrgSetting(r.Context(), a, id)
	}
	if err != nil {
		return err
	}
	return ok(w, toOrgSettingJSON(st))
}

// apiRecover is POST /api/v1/recover {"email"}: always the same answer.
func (s *server) apiRecover(w http.ResponseWriter, r *http.Request) error {
	var in emailRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if err := s.svc.RequestRecovery(r.Context(), in.Email, client(r)); err != nil {
		return err
	}
	return ok(w, detail("if that address has a Portal account, we sent it a link to choose a new password; the link works once, for 1 hour"))
}

type recoverVerifyRequest struct {
	Password  *string `json:"password"`
	TwoFactor string  `json:"two_factor"` // a code or a recovery code, when the account has 2FA
}

// apiVerifyRecover is POST /api/v1/recover/verify/{token}: it signs the
// user in with a session that can only set a new password, or, with
// {"password": …} in the body (our addition), sets it and signs in fully.
func (s *server) apiVerifyRecover(w http.ResponseWriter, r *http.Request) error {
	var in recoverVerifyRequest
	if err := decodeOptionalJSON(r, &in); err != nil {
		return err
	}
	res, err := s.svc.VerifyRecovery(r.Context(), r.PathValue("token"), in.Password, in.TwoFactor, client(r))
	if err != nil {
		return err
	}
	s.setSessionCookies(w, res)
	msg := `you are signed in to set a new password: PUT /api/v1/self {"password": "…"}; until then this session can do nothing else`
	if !res.Session.PasswordOnly {
		msg = "your new password is set, your other sessions are signed out, your API tokens are deleted, and you are signed in"
	}
	return ok(w, map[string]any{"detail": msg, "email": res.User.Email, "password_only": res.Session.PasswordOnly,
		"two_factor_required": false, "two_factor_passed": res.Session.TwoFactorPassed})
}

// decodeOptionalJSON is decodeJSON for a body that may be left out.
func decodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return portal.Errorf(portal.EINVALID, "Content-Type must be application/json")
		}
	}
	return decodeJSONBody(bytes.NewReader(b), v)
}
