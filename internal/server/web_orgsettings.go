package server

import (
	"net/http"
	"strconv"
	"strings"

	"portal"
	"portal/internal/app"
)

// Organization ▸ Settings (Super Users only): the password policy and the
// requirement of two-factor authentication (api_orgsettings.go is the API).

// settingsView is the data of the Organization Settings page: the values
// of the form's fields, from the policy or, after an error, as typed.
type settingsView struct {
	Org     *portal.Org
	Values  map[string]string
	Checked map[string]bool
	Limits  map[string]int
	// AuditRetention is how many days the organization keeps its audit
	// entries (its own form: web_orglogs.go).
	AuditRetention string
	// The range of the retention, and how long a deleted member's
	// entries are kept whatever it says.
	RetentionMin, RetentionMax int
	RetentionDeleted           string
}

var policyChecks = []string{"enabled", "requires_special_char", "requires_two_factor_auth", "block_common"}

var policyLimits = map[string]int{
	"MinLength": portal.MinPasswordLen, "MaxLength": portal.MaxPasswordLen, "MaxExpiry": portal.MaxPolicyExpiryDays,
	"MaxHistory": portal.MaxPolicyHistoryCount, "MaxClasses": portal.MaxPolicyCharacterClass, "MaxGrace": portal.MaxPolicyTwoFactorGrace,
}

// webOrgSettings shows Organization ▸ Settings (Super Users only).
func (s *server) webOrgSettings(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	st, err := s.svc.GetOrgSetting(r.Context(), a, id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if v.Error != "" {
		status = http.StatusBadRequest
	}
	v.Title, v.CurrentOrg = "Settings · "+st.Org.Name, st.Org.ID
	sv := &settingsView{Org: st.Org, Limits: policyLimits, Values: map[string]string{}, Checked: map[string]bool{}}
	p := st.PasswordPolicy
	if v.Form.Get("submitted") != "" {
		for _, k := range []string{"min_length", "expiry_in_days", "history_count", "min_character_classes", "two_factor_grace_days"} {
			sv.Values[k] = v.Form.Get(k)
		}
		for _, k := range policyChecks {
			sv.Checked[k] = v.Form.Get(k) != ""
		}
	} else {
		sv.Values = map[string]string{"min_length": strconv.Itoa(p.MinLength), "expiry_in_days": strconv.Itoa(p.ExpiryInDays),
			"history_count": strconv.Itoa(p.HistoryCount), "min_character_classes": strconv.Itoa(p.MinCharacterClasses),
			"two_factor_grace_days": strconv.Itoa(p.TwoFactorGraceDays)}
		sv.Checked = map[string]bool{"enabled": p.Enabled, "requires_special_char": p.RequiresSpecialChar,
			"requires_two_factor_auth": p.RequiresTwoFactorAuth, "block_common": p.BlockCommon}
	}
	if sv.AuditRetention = v.Form.Get("audit_retention_days"); sv.AuditRetention == "" {
		days, err := s.svc.AuditRetention(r.Context(), a, id)
		if err != nil {
			return err
		}
		sv.AuditRetention = strconv.Itoa(days)
	}
	sv.RetentionMin, sv.RetentionMax = app.MinAuditRetentionDays, app.MaxAuditRetentionDays
	sv.RetentionDeleted = app.Lifetime(app.DeletedUserAuditRetention)
	v.Data = sv
	s.render(w, r, status, "org_settings", v)
	return nil
}

// webSaveOrgSettings saves the password policy from the settings form.
func (s *server) webSaveOrgSettings(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	f := r.PostForm
	in := app.PolicyInput{}
	for _, dst := range []struct {
		field string
		p     **bool
	}{{"enabled", &in.Enabled}, {"requires_special_char", &in.RequiresSpecialChar}, {"requires_two_factor_auth", &in.RequiresTwoFactorAuth}, {"block_common", &in.BlockCommon}} {
		b := f.Get(dst.field) != ""
		*dst.p = &b
	}
	names := map[string]string{"min_length": "Minimum length", "expiry_in_days": "Password expiry", "history_count": "Password history",
		"min_character_classes": "Kinds of characters", "two_factor_grace_days": "Grace period"}
	var ferr error
	for field, dst := range map[string]**int{"min_length": &in.MinLength, "expiry_in_days": &in.ExpiryInDays,
		"history_count": &in.HistoryCount, "min_character_classes": &in.MinCharacterClasses, "two_factor_grace_days": &in.TwoFactorGraceDays} {
		n, err := strconv.Atoi(strings.TrimSpace(f.Get(field)))
		if err != nil && ferr == nil {
			ferr = portal.Errorf(portal.EINVALID, "%s must be a whole number", names[field])
		}
		*dst = &n
	}
	var saved *app.OrgSetting
	if ferr == nil {
		saved, ferr = s.svc.UpdatePasswordPolicy(r.Context(), a, id, in)
	}
	if ferr != nil {
		return s.reshow(w, r, v, ferr, func(int) error { // webOrgSettings answers 400 for any error
			// The message names the labels of the form, not the JSON fields.
			msg := portal.ErrorMessage(ferr)
			for field, label := range names {
				msg = strings.ReplaceAll(msg, field, label)
			}
			v.Error = sentence(msg)
			v.Form.Set("submitted", "1") // the settings page shows what was typed
			return s.webOrgSettings(w, r, v, a)
		}, portal.ENOTFOUND, portal.EFORBIDDEN)
	}
	if saved != nil && !saved.PasswordPolicy.Enabled {
		s.flash(w, "The password policy is saved. It is off: none of its rules apply until you tick \"Enable the password policy\".")
	} else {
		s.flash(w, "The password policy is saved.")
	}
	http.Redirect(w, r, "/orgs/"+id+"/settings", http.StatusSeeOther)
	return nil
}
