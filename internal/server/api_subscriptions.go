package server

import (
	"net/http"

	"portal/internal/app"
)

// E-mail notification subscriptions in Mist's shapes (rules in
// internal/app/notifications.go): POST and DELETE
// /api/v1/orgs/{org_id}/subscriptions and /api/v1/sites/{site_id}/subscriptions
// answer {}; GET /api/v1/self/subscriptions lists them.

// subscriptionJSON is Mist's self subscription; site_id is set for a
// site's, left out for the whole organization's.
type subscriptionJSON struct {
	OrgID    string `json:"org_id"`
	OrgName  string `json:"org_name"`
	SiteID   string `json:"site_id,omitempty"`
	SiteName string `json:"site_name,omitempty"`
}

func (s *server) apiSubscribeOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	return s.apiSubscription(w, r, a, "org_id", true)
}

func (s *server) apiUnsubscribeOrg(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	return s.apiSubscription(w, r, a, "org_id", false)
}

func (s *server) apiSubscribeSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	return s.apiSubscription(w, r, a, "site_id", true)
}

func (s *server) apiUnsubscribeSite(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	return s.apiSubscription(w, r, a, "site_id", false)
}

// apiSubscription turns a subscription on or off; param names the path
// parameter, org_id or site_id.
func (s *server) apiSubscription(w http.ResponseWriter, r *http.Request, a *app.Actor, param string, on bool) error {
	what := map[string]string{"org_id": "organization", "site_id": "site"}[param]
	id, err := pathID(r, param, what)
	if err != nil {
		return err
	}
	orgID, siteID := id, ""
	if param == "site_id" {
		orgID, siteID = "", id
	}
	if on {
		err = s.svc.Subscribe(r.Context(), a, orgID, siteID)
	} else {
		err = s.svc.Unsubscribe(r.Context(), a, orgID, siteID)
	}
	if err != nil {
		return err
	}
	return ok(w, map[string]any{})
}

func (s *server) apiListSubscriptions(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	subs, err := s.svc.ListSubscriptions(r.Context(), a)
	if err != nil {
		return err
	}
	out := make([]subscriptionJSON, len(subs))
	for i, x := range subs {
		out[i] = subscriptionJSON(x)
	}
	return ok(w, out)
}
