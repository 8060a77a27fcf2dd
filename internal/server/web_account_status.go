package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"portal"
)

// My Account: where a save's confirmation and error show, and the section
// navigation.
//
// After Save the browser goes to /account#<section>, which scrolls to the
// section saved: its confirmation shows there, under the section's
// heading, rather than atop the page out of view. A failed save shows the
// page again with the error in the same place, tied to the field it is
// about when the service says which (aria-invalid, aria-describedby).
// account.js brings the section into view when the address has no
// #<section> (a page answered to a form), and moves the focus to the
// message or the field in error.

// flashPlaceCookie holds the My Account section of the confirmation in
// the flash cookie (flashIn).
const flashPlaceCookie = "flash_at"

// flashIn stores a confirmation to show on the next page inside the My
// Account section named place; the caller redirects to /account#<place>.
func (s *server) flashIn(w http.ResponseWriter, place, msg string) {
	s.flash(w, msg)
	http.SetCookie(w, &http.Cookie{Name: flashPlaceCookie, Value: url.QueryEscape(place), Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// takeFlashPlace returns the section of the pending confirmation
// (flashIn), or "", and clears it.
func (s *server) takeFlashPlace(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashPlaceCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashPlaceCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	place, _ := url.QueryUnescape(c.Value)
	return place
}

// placeConfirmation puts the confirmation of a save into the section
// saved: the one flashIn named, or the one whose save shows something
// once (shown, with the message in v.Flash). A confirmation for no
// section of the page stays atop it.
func (s *server) placeConfirmation(w http.ResponseWriter, r *http.Request, v *view, av *accountView, sections []accountSection, shown map[string]any) {
	place, msg := s.takeFlashPlace(w, r), v.Flash
	if len(shown) == 1 && msg != "" {
		for name := range shown {
			place = name
		}
	} else if place != "" && msg == "" {
		msg = s.takeFlash(w, r)
	}
	if msg == "" {
		return
	}
	v.Flash = msg // taken: the layout shows it atop the page unless flashInSection
	for _, sec := range sections {
		if sec.name == place {
			av.Saved, av.SavedMessage = place, msg
			return
		}
	}
}

// flashInSection reports whether the page shows its confirmation (v.Flash)
// in a section rather than atop the page (layout.html).
func flashInSection(v *view) bool {
	av, ok := v.Data.(*accountView)
	return ok && av.Saved != "" && av.SavedMessage == v.Flash
}

// accountNavItem is one entry of My Account's section navigation.
type accountNavItem struct {
	Name  string // the section's element id: the link is #<name>
	Title string
}

// Title is the section's title; its name if it was registered without.
func (sec accountSection) Title() string {
	if sec.title != "" {
		return sec.title
	}
	return sec.name
}

// errorField is the name of the form field of section that err is about,
// as the service says (portal.Error Fields["field"], the API's name, or
// "broken_rules" for a new password the policy refuses), or "".
func errorField(section string, err error) string {
	var e *portal.Error
	if !errors.As(err, &e) {
		return ""
	}
	if f, _ := e.Fields["field"].(string); f != "" {
		if f == "old_password" { // the API's name of the current password
			return "current_password"
		}
		return f
	}
	if _, ok := e.Fields["broken_rules"]; ok && section == "password" {
		return "new_password"
	}
	return ""
}

// withField is err, a *portal.Error, saying which form field it is about
// (errorField).
func withField(err error, field string) error {
	var e *portal.Error
	if !errors.As(err, &e) {
		return err
	}
	fields := map[string]any{"field": field}
	for k, v := range e.Fields {
		fields[k] = v
	}
	return &portal.Error{Code: e.Code, Message: e.Message, Fields: fields}
}

// keepCurrentPassword keeps the current password typed in the Password
// section when the service refused only the new one: it checks the
// current password first, so a refusal by the password policy
// (broken_rules) means the current one was right. Any other error clears
// it, as every secret field is cleared (reshow).
func keepCurrentPassword(r *http.Request, v *view, err error) {
	var e *portal.Error
	cur := r.PostForm.Get("current_password")
	if cur == "" || v.Form == nil || !errors.As(err, &e) || e.Fields["broken_rules"] == nil || !r.PostForm.Has("new_password") {
		return
	}
	v.Form.Set("current_password", cur)
}

func init() {
	// Bound here, with the code they serve; funcs is in web.go.
	funcs["sectionStatus"] = sectionStatus
	funcs["fieldAttrs"] = fieldAttrs
	funcs["flashInSection"] = flashInSection
}

// sectionStatus adds to the HTML of a My Account section (section in
// account.html) the confirmation of its save, or the error of its failed
// save, right under its heading. An error the section's template shows
// itself is not shown twice.
func sectionStatus(html template.HTML, name string, v *view) template.HTML {
	av, ok := v.Data.(*accountView)
	if !ok {
		return html
	}
	id := template.HTMLEscapeString(name)
	var msg string
	switch errMsg := av.Errors[name]; {
	case av.Saved == name && av.SavedMessage != "":
		msg = `<p class="flash ok section-status" role="status" id="` + id + `-status" tabindex="-1" data-section-status>` + template.HTMLEscapeString(av.SavedMessage) + `</p>`
	case errMsg != "" && !strings.Contains(string(html), template.HTMLEscapeString(errMsg)):
		msg = `<p class="flash error section-status" role="alert" id="` + id + `-error" tabindex="-1" data-section-status>` + template.HTMLEscapeString(errMsg) + `</p>`
	default:
		return html
	}
	s := string(html)
	at := strings.Index(s, "</h2>")
	if at < 0 {
		return template.HTML(msg) + html
	}
	at += len("</h2>")
	return template.HTML(s[:at] + "\n  " + msg + s[at:])
}

// sectionErrors is the data of a page whose forms show their errors tied
// to a field (fieldAttrs): My Account's sections, the survey's forms
// (web_survey.go).
type sectionErrors interface {
	// sectionError is the error of the form section's last send and the
	// field it is about ("" when none).
	sectionError(section string) (msg, field string)
}

func (av *accountView) sectionError(section string) (msg, field string) {
	if av == nil {
		return "", ""
	}
	return av.Errors[section], av.ErrorFields[section]
}

// fieldAttrs are the attributes of a form field of a My Account section
// (or another form of sectionErrors): aria-invalid and the error's id
// (<section>-error) in aria-describedby when the error of the section's
// last save is about this field (errorField), and the ids of the field's
// own hints (describedBy).
//
//	<input id="phone" name="phone" {{fieldAttrs $ "info" "phone"}}>
func fieldAttrs(v *view, section, field string, describedBy ...string) template.HTMLAttr {
	invalid := false
	if se, ok := v.Data.(sectionErrors); ok {
		msg, f := se.sectionError(section)
		invalid = msg != "" && f == field
	}
	var b strings.Builder
	ids := describedBy
	if invalid {
		b.WriteString(`aria-invalid="true"`)
		ids = append([]string{section + "-error"}, ids...)
	}
	if len(ids) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`aria-describedby="` + template.HTMLEscapeString(strings.Join(ids, " ")) + `"`)
	}
	return template.HTMLAttr(b.String())
}
