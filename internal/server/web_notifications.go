package server

import (
	"context"
	"net/http"
	"net/url"

	"portal"
	"portal/internal/app"
)

// My Account ▸ Email Notification (procedure 5 of the seed), the "Enable
// Email Notifications" page of an organization, and the page of a
// notification mail's unsubscribe link. The rules are in
// internal/app/notifications.go.

// notificationsSection is the section's data: the current organization
// (the first of the user's) and the others where notifications are on.
type notificationsSection struct {
	Current *app.OrgNotifications
	Others  []app.OrgNotifications
}

// sectionNotifications is My Account ▸ Email Notification.
func (s *server) sectionNotifications() accountSection {
	return accountSection{
		name:  "notifications",
		title: "Email Notification",
		load: func(ctx context.Context, a *app.Actor) (any, error) {
			all, err := s.svc.NotificationOverview(ctx, a)
			if err != nil {
				return nil, err
			}
			d := &notificationsSection{}
			for i, o := range all {
				if i == 0 {
					d.Current = &all[0]
				} else if o.On() {
					d.Others = append(d.Others, o)
				}
			}
			return d, nil
		},
	}
}

// notificationsPage is the "Enable Email Notifications" page.
type notificationsPage struct {
	*app.NotificationSettings
	Query  string
	Search bool // many sites: the search box shows
	Orgs   []app.OrgNotifications
}

// searchFrom is how many visible sites make the page offer a search.
const searchFrom = 10

// webNotifications shows GET /account/notifications?org=…&q=….
func (s *server) webNotifications(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	all, err := s.svc.NotificationOverview(r.Context(), a)
	if err != nil {
		return err
	}
	orgID := r.URL.Query().Get("org")
	if orgID == "" && len(all) > 0 {
		orgID = all[0].OrgID
	}
	if orgID == "" {
		return portal.Errorf(portal.ENOTFOUND, "you do not belong to any organization yet: notifications are about an organization's sites")
	}
	if orgID, err = parseID(orgID, "organization"); err != nil {
		return err
	}
	q := r.URL.Query().Get("q")
	st, err := s.svc.NotificationSettingsOf(r.Context(), a, orgID, q)
	if err != nil {
		return err
	}
	v.Title, v.CurrentOrg = "Enable Email Notifications", orgID
	v.Data = &notificationsPage{NotificationSettings: st, Query: q, Search: st.TotalSites >= searchFrom || q != "", Orgs: all}
	s.render(w, r, http.StatusOK, "notifications", v)
	return nil
}

// webSaveNotification handles POST /account/notifications: one toggle,
// org (and site, for a site's) with on=1 or on=0; back to the page.
func (s *server) webSaveNotification(w http.ResponseWriter, r *http.Request, v *view, a *app.Actor) error {
	orgID, err := parseID(r.PostForm.Get("org"), "organization")
	if err != nil {
		return err
	}
	siteID := ""
	if r.PostForm.Get("site") != "" {
		if siteID, err = parseID(r.PostForm.Get("site"), "site"); err != nil {
			return err
		}
	}
	var msg string
	switch r.PostForm.Get("on") {
	case "1":
		err, msg = s.svc.Subscribe(r.Context(), a, orgID, siteID), "Notifications turned on"
	case "0":
		err, msg = s.svc.Unsubscribe(r.Context(), a, orgID, siteID), "Notifications turned off"
	default:
		return portal.Errorf(portal.EINVALID, "the form must say whether to turn notifications on or off")
	}
	if err != nil {
		return err
	}
	if siteID == "" {
		msg += " for the whole organization."
	} else {
		msg += " for the site."
	}
	s.flash(w, msg)
	to := url.Values{"org": {orgID}}
	if q := r.PostForm.Get("q"); q != "" {
		to.Set("q", q)
	}
	frag := "org-toggle"
	if siteID != "" {
		frag = "site-" + siteID
	}
	http.Redirect(w, r, "/account/notifications?"+to.Encode()+"#"+frag, http.StatusSeeOther)
	return nil
}

// unsubscribePage is the page of an unsubscribe link.
type unsubscribePage struct {
	Token string
	*app.UnsubscribeLink
}

// webUnsubscribeForm shows GET /unsubscribe/{token}: what the link turns
// off, and a button that does it. It changes nothing (mail scanners open
// links).
func (s *server) webUnsubscribeForm(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Unsubscribe"
	token := r.PathValue("token")
	l, err := s.svc.UnsubscribeInfo(r.Context(), token)
	if err != nil {
		return err
	}
	v.Data = &unsubscribePage{Token: token, UnsubscribeLink: l}
	s.render(w, r, http.StatusOK, "unsubscribe", v)
	return nil
}

// webUnsubscribe handles POST /unsubscribe/{token}: the one-click
// unsubscribe of RFC 8058 (a mail client posts List-Unsubscribe=One-Click,
// without a session), and the button of the link's page.
func (s *server) webUnsubscribe(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title = "Unsubscribed"
	l, err := s.svc.OneClickUnsubscribe(r.Context(), client(r), r.PathValue("token"))
	if err != nil {
		return err
	}
	v.Data = &unsubscribePage{UnsubscribeLink: l}
	s.render(w, r, http.StatusOK, "unsubscribe", v)
	return nil
}
