package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portal"
	"portal/internal/app"
)

// passwordSection is the data of the Password section of My Account.
type passwordSection struct {
	Policy       *app.EffectivePolicy
	NeedsOld     bool      // the current password is asked for
	PasswordOnly bool      // the session came from a recovery link
	Expired      bool      // the password has expired
	Modified     time.Time // when the password was last set
	ExpiresAt    time.Time // zero: never
}

// sectionPassword is the Password section: current password, new password
// and its confirmation, beside the rules that apply and who imposes them.
func (s *server) sectionPassword() accountSection {
	return accountSection{
		name: "password",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			ep, err := s.svc.PasswordPolicyFor(ctx, a.User.ID)
			if err != nil {
				return nil, err
			}
			only := a.Session != nil && a.Session.PasswordOnly
			return &passwordSection{Policy: ep, NeedsOld: !only, PasswordOnly: only, Expired: a.PasswordExpired,
				Modified: a.User.PasswordModifiedTime, ExpiresAt: app.PasswordExpiresAt(a.User, ep)}, nil
		},
		save: func(r *http.Request, a *app.Actor) (string, error) {
			f := r.PostForm
			pw := f.Get("new_password")
			if pw == "" {
				return "", portal.Errorf(portal.EINVALID, "type the new password")
			}
			if pw != f.Get("new_password_confirm") {
				return "", portal.Errorf(portal.EINVALID, "the new password and its confirmation do not match")
			}
			in := app.SelfInput{Password: &pw}
			if old := f.Get("current_password"); old != "" {
				in.OldPassword = &old
			}
			if _, err := s.svc.UpdateSelf(r.Context(), a, in); err != nil {
				return "", err
			}
			return "Your password has been changed. Your other sessions were signed out.", nil
		},
	}
}

// settingsView is the data of the Organization Settings page: the values
// of the form's fields, from the policy or, after an error, as typed.
type settingsView struct {
	Org     *portal.Org
	Values  map[string]string
	Checked map[string]bool
	Limits  map[string]int
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

// recoverView is the data of the recovery pages.
type recoverView struct {
	Token     string
	Policy    *app.EffectivePolicy
	Broken    bool // the link cannot be used
	TwoFactor bool // the account has two-factor authentication: ask for a code too
}

func (s *server) webRecoverForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Forgot your password?"
	v.Form = r.URL.Query()
	s.render(w, r, http.StatusOK, "recover", v)
	return nil
}

func (s *server) webRecover(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Forgot your password?"
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	email := r.PostForm.Get("email")
	if err := s.svc.RequestRecovery(r.Context(), email, client(r)); err != nil {
		return s.formError(w, r, v, "recover", err)
	}
	v.Title = "Check your e-mail"
	v.Data = map[string]any{"Email": strings.TrimSpace(email)}
	s.render(w, r, http.StatusOK, "recover_sent", v)
	return nil
}

// webRecoverVerifyForm shows the page of a recovery link: a new password
// under the policy. Opening it does not use the link (mail scanners open
// links too); setting the password does.
func (s *server) webRecoverVerifyForm(w http.ResponseWriter, r *http.Request, v *view) error {
	token := r.URL.Query().Get("token")
	return s.renderRecoverVerify(w, r, v, token, http.StatusOK)
}

func (s *server) renderRecoverVerify(w http.ResponseWriter, r *http.Request, v *view, token string, status int) error {
	v.Title = "Choose a new password"
	rv := &recoverView{Token: token}
	ep, err := s.svc.RecoveryLink(r.Context(), token)
	if err != nil {
		if errorStatus(err) >= 500 {
			return err
		}
		rv.Broken, rv.Token = true, ""
		v.Error = sentence(portal.ErrorMessage(err))
		status = errorStatus(err)
	}
	rv.Policy = ep
	if !rv.Broken {
		if rv.TwoFactor, err = s.svc.RecoveryLinkTwoFactor(r.Context(), token); err != nil {
			return err
		}
	}
	v.Data = rv
	s.render(w, r, status, "recover_verify", v)
	return nil
}

func (s *server) webRecoverVerify(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := r.ParseForm(); err != nil {
		return portal.Errorf(portal.EINVALID, "the form could not be read")
	}
	f := r.PostForm
	token, pw := f.Get("token"), f.Get("new_password")
	var err error
	switch {
	case pw == "":
		err = portal.Errorf(portal.EINVALID, "type the new password")
	case pw != f.Get("new_password_confirm"):
		err = portal.Errorf(portal.EINVALID, "the new password and its confirmation do not match")
	}
	var res *app.LoginResult
	if err == nil {
		res, err = s.svc.VerifyRecovery(r.Context(), token, &pw, f.Get("two_factor"), client(r))
	}
	if err != nil {
		return s.reshow(w, r, v, err, func(status int) error { return s.renderRecoverVerify(w, r, v, token, status) })
	}
	s.setSessionCookies(w, res)
	s.flash(w, "Your new password is set, your other sessions were signed out and your API tokens deleted, and you are logged in.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}
