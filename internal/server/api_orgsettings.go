package server

import (
	"net/http"

	"portal/internal/app"
)

// Organization settings over the API (Mist's org_setting): the password
// policy and the two-factor requirement, whose rules are in
// internal/app/policy.go.

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
	// AuditRetentionDays is how long the organization keeps its audit
	// entries (ours: app/retention.go).
	AuditRetentionDays int `json:"audit_retention_days"`
}

func toOrgSettingJSON(st *app.OrgSetting, retention int) orgSettingJSON {
	return orgSettingJSON{ID: st.Org.ID, OrgID: st.Org.ID, PasswordPolicy: passwordPolicyJSON(st.PasswordPolicy),
		CreatedTime: st.Org.CreatedTime.Unix(), ModifiedTime: st.Org.ModifiedTime.Unix(), AuditRetentionDays: retention}
}

// orgSettingAnswer is the organization's settings as the API shows them.
func (s *server) orgSettingAnswer(w http.ResponseWriter, r *http.Request, a *app.Actor, st *app.OrgSetting) error {
	days, err := s.svc.AuditRetention(r.Context(), a, st.Org.ID)
	if err != nil {
		return err
	}
	return ok(w, toOrgSettingJSON(st, days))
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
	PasswordPolicy     *policyRequest `json:"password_policy"`
	AuditRetentionDays *int           `json:"audit_retention_days"` // ours
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
	return s.orgSettingAnswer(w, r, a, st)
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
	if in.AuditRetentionDays != nil { // checked before anything is written
		if err := app.CheckAuditRetention(*in.AuditRetentionDays); err != nil {
			return err
		}
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
	if in.AuditRetentionDays != nil {
		if err := s.svc.SetAuditRetention(r.Context(), a, id, *in.AuditRetentionDays); err != nil {
			return err
		}
	}
	return s.orgSettingAnswer(w, r, a, st)
}
