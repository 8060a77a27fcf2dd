package server

import (
	"context"
	"net/http"
	"net/url"

	"portal"
	"portal/internal/app"
)

// accountSection is one section of the My Account page: a template
// (web/templates/_account_<name>.html defining "account-<name>") and a
// handler pair: load fills the section's data for the page, save handles
// POST /account/<name> and returns the confirmation to show.
type accountSection struct {
	name string
	load func(ctx context.Context, a *app.Actor) (any, error)
	save func(r *http.Request, a *app.Actor) (confirmation string, err error)
}

// accountSections lists the sections in page order.
func (s *server) accountSections() []accountSection {
	return []accountSection{
		s.sectionInfo(),
		s.sectionPassword(),
		s.sectionTwoFactor(), // web_twofactor.go
		s.sectionPrefs(),
		s.sectionOrgs(),
		s.sectionSessions(),
		s.sectionAPITokens(),
	}
}

// accountView is the data of the My Account page.
type accountView struct {
	Self     *app.Self
	Sections map[string]any    // section name → its data
	Errors   map[string]string // section name → error message of its last save
	Forms    map[string]url.Values
	Saved    string // name of the section just saved
}

func (s *server) webAccount(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderAccount(w, r, v, a, http.StatusOK, "")
}

// renderAccount shows My Account; after a failed save (from reshow),
// section holds the section's name, and the error and what the user typed
// (v.Error and v.Form) are shown in that section rather than atop the page.
func (s *server) renderAccount(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int, section string) error {
	var saveMsg string
	var saveForm url.Values
	if section != "" {
		saveMsg, saveForm = v.Error, v.Form
		v.Error, v.Form = "", nil
	}
	me, err := s.svc.GetSelf(r.Context(), a)
	if err != nil {
		return err
	}
	av := &accountView{Self: me, Sections: map[string]any{}, Errors: map[string]string{}, Forms: map[string]url.Values{}}
	for _, sec := range s.accountSections() {
		if sec.load == nil {
			continue
		}
		d, err := sec.load(r.Context(), a)
		if err != nil {
			return err
		}
		av.Sections[sec.name] = d
	}
	if section != "" {
		av.Errors[section], av.Forms[section] = saveMsg, saveForm
	}
	v.Title, v.Data = "My Account", av
	s.render(w, r, status, "account", v)
	return nil
}

// isSecretField reports form fields never echoed back into a page.
func isSecretField(name string) bool {
	switch name {
	case "password", "new_password", "new_password_confirm", "old_password", "current_password", "code", "two_factor":
		return true
	}
	return false
}

// webAccountSave handles POST /account/{section}.
func (s *server) webAccountSave(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.saveSection(r.PathValue("section"))(w, r, v, a)
}

// saveSection handles POST /account/<name>, for the sections registered
// with a route of their own (routes.go: those open to restricted sessions).
func (s *server) saveSection(name string) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
		for _, sec := range s.accountSections() {
			if sec.name != name || sec.save == nil {
				continue
			}
			msg, err := sec.save(r, a)
			if err != nil {
				return s.reshow(w, r, v, err, func(status int) error { return s.renderAccount(w, r, v, a, status, name) })
			}
			if msg != "" {
				s.flash(w, msg)
			}
			http.Redirect(w, r, "/account#"+name, http.StatusSeeOther)
			return nil
		}
		return portal.Errorf(portal.ENOTFOUND, "no such section of My Account")
	}
}

// formValue returns a pointer to a posted field's value, or nil when the
// form did not carry it.
func formValue(r *http.Request, name string) *string {
	if !r.PostForm.Has(name) {
		return nil
	}
	v := r.PostForm.Get(name)
	return &v
}

// sectionInfo is Account Information: name and phone.
func (s *server) sectionInfo() accountSection {
	return accountSection{
		name: "info",
		load: s.loadInfo, // the pending e-mail change (web_email.go)
		save: func(r *http.Request, a *app.Actor) (string, error) {
			_, err := s.svc.UpdateSelf(r.Context(), a, app.SelfInput{FirstName: formValue(r, "first_name"), LastName: formValue(r, "last_name"), Phone: formValue(r, "phone")})
			if err != nil {
				return "", err
			}
			return "Your user account information is successfully updated.", nil
		},
	}
}

// sectionOrgs lists the user's organizations and roles (read only).
func (s *server) sectionOrgs() accountSection { return accountSection{name: "orgs"} }
