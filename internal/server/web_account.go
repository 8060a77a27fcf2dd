package server

import (
	"context"
	"net/http"
	"net/url"

	"portal"
	"portal/internal/app"
)

// accountSection is one section of the My Account page. Adding one takes
// a template, web/templates/_account_<name>.html defining
// "account-<name>" (account.html shows the sections in order), and its
// entry in accountSections, with its title (the section navigation lists
// the sections by it): load fills the section's data for the page
// (.Data.Sections "<name>"), save handles POST /account/<name> and returns
// the confirmation to show after the redirect to /account#<name>. A save
// that must show something once (a new API token's key) returns it as
// shown: the page is then shown at once with it (.Data.Shown "<name>").
// The confirmation and the error of a save show inside the section, under
// its heading (web_account_status.go).
// A section's POST is closed to restricted sessions unless routes.go
// registers it on its own (restrict.go).
type accountSection struct {
	name  string
	title string // the section's heading, and its entry in the page's section navigation
	load  func(ctx context.Context, a *app.Actor) (any, error)
	save  func(r *http.Request, a *app.Actor) (confirmation string, shown any, err error)
}

// accountSections lists the sections in page order.
func (s *server) accountSections() []accountSection {
	return present([]accountSection{
		s.sectionInfo(),
		s.sectionPassword(),
		s.sectionTwoFactor(), // web_twofactor.go
		s.sectionPrefs(),
		s.sectionNotifications(), // web_notifications.go
		s.sectionOrgs(),
		s.sectionSessions(),
		s.sectionAPITokens(),
		s.sectionLoginFailures(), // web_selfdata.go
		s.sectionData(),          // web_export.go
		s.sectionSocial(),        // web_google.go: none when Google sign-in is off
	})
}

// accountView is the data of the My Account page.
type accountView struct {
	Self     *app.Self
	Order    []string          // the sections' names, in page order
	Sections map[string]any    // section name → its data
	Shown    map[string]any    // section name → what its save shows once
	Errors   map[string]string // section name → error message of its last save
	Forms    map[string]url.Values
	Saved    string // name of the section just saved
	// SavedMessage is the confirmation of the save, shown in that section.
	SavedMessage string
	// ErrorFields names the form field that the error of a section's last
	// save is about, when the service says (section name → field name).
	ErrorFields map[string]string
	Nav         []accountNavItem // the section navigation, in page order
	// SurveyLink: the page ends with a link to the two-minute survey
	// (app.SurveyLink), which "Don't ask again" leaves.
	SurveyLink bool
}

func (s *server) webAccount(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	return s.renderAccount(w, r, v, a, http.StatusOK, "", nil, nil)
}

// renderAccount shows My Account; after a failed save (from reshow),
// section holds the section's name, and the error and what the user typed
// (v.Error and v.Form) are shown in that section rather than atop the page.
// shown is what a save shows once (accountSection); failed is the error
// of the save, for the field it is about.
func (s *server) renderAccount(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor, status int, section string, shown map[string]any, failed error) error {
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
	av := &accountView{Self: me, Sections: map[string]any{}, Shown: shown, Errors: map[string]string{}, Forms: map[string]url.Values{}, ErrorFields: map[string]string{}}
	sections := s.accountSections()
	for _, sec := range sections {
		av.Order = append(av.Order, sec.name)
		av.Nav = append(av.Nav, accountNavItem{Name: sec.name, Title: sec.Title()})
		if sec.load == nil {
			continue
		}
		d, err := sec.load(r.Context(), a)
		if err != nil {
			return err
		}
		av.Sections[sec.name] = d
	}
	if av.SurveyLink, err = s.svc.SurveyLink(r.Context(), a); err != nil {
		return err
	}
	if section != "" {
		av.Errors[section], av.Forms[section] = saveMsg, saveForm
		av.ErrorFields[section] = errorField(section, failed)
	}
	s.placeConfirmation(w, r, v, av, sections, shown) // web_account_status.go
	v.Title, v.Data = "My Account", av
	s.allowGoogleForms(w) // Social Sign In's Yes leads there (web_google.go)
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
			msg, shown, err := sec.save(r, a)
			if err != nil {
				return s.reshow(w, r, v, err, func(status int) error {
					keepCurrentPassword(r, v, err)
					return s.renderAccount(w, r, v, a, status, name, nil, err)
				})
			}
			if shown != nil { // shown this once: no redirect
				v.Flash = msg
				return s.renderAccount(w, r, v, a, http.StatusOK, "", map[string]any{name: shown}, nil)
			}
			if msg != "" {
				s.flashIn(w, name, msg) // shown in the section (web_account_status.go)
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
		name:  "info",
		title: "Account Information",
		load:  s.loadInfo, // the pending e-mail change (web_email.go)
		save: func(r *http.Request, a *app.Actor) (string, any, error) {
			_, err := s.svc.UpdateSelf(r.Context(), a, app.SelfInput{FirstName: formValue(r, "first_name"), LastName: formValue(r, "last_name"), Phone: formValue(r, "phone")})
			if err != nil {
				return "", nil, err
			}
			return "Your user account information is successfully updated.", nil, nil
		},
	}
}

// sectionOrgs lists the user's organizations and roles (read only).
func (s *server) sectionOrgs() accountSection {
	return accountSection{name: "orgs", title: "Organizations"}
}
