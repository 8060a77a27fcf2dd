package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"portal"
	"portal/internal/authn"
	"portal/internal/mail"
	"portal/internal/store"
)

// E-mail notifications (procedure 5 of the seed): a user subscribes to an
// organization (all of it) or to sites of it that they may see. The
// organization changes a Super User cares about (writer.audit, below) and
// device events (events.go) queue one notification per subscribed user in
// the transaction of the change; the background work (RunCleanup) sends
// each user one digest per window (PORTAL_NOTIFY_WINDOW), at once when a
// notification is critical. A digest claims the user's pending
// notifications in one conditional UPDATE, checks the user's access to
// each again (losing access stops the mail at once) and queues one outbox
// mail in the same transaction: of several instances, one sends each
// digest, and a crash loses nothing. Every mail carries a one-click
// unsubscribe link (RFC 8058) whose token is stored hashed.

// DefaultNotifyWindow is the digest window when Options.NotifyWindow is zero.
const DefaultNotifyWindow = 5 * time.Minute

// KindOrgChange is the kind of a notification about a change of the
// organization (an audit entry); others are device event types.
const KindOrgChange = "org_change"

// digestBatch is how many users' digests one SendDigests round sends at most.
const digestBatch = 200

// notifier is the Service's notification state.
type notifier struct {
	window time.Duration
	wake   chan struct{} // a critical notification was queued
}

func newNotifier(window time.Duration) notifier {
	if window <= 0 {
		window = DefaultNotifyWindow
	}
	return notifier{window: window, wake: make(chan struct{}, 1)}
}

// NotifyWindow is the digest window.
func (s *Service) NotifyWindow() time.Duration { return s.notify.window }

// Subscription is one of the actor's subscriptions.
type Subscription struct {
	OrgID, OrgName   string
	SiteID, SiteName string // "" for the whole organization
}

// Subscribe turns on the actor's notifications for an organization
// (siteID "") or one of its sites. The actor must see it: an organization
// they are a member of, a site they may see (else not-found). Subscribing
// again changes nothing.
func (s *Service) Subscribe(ctx context.Context, a *Actor, orgID, siteID string) (err error) {
	defer wrap(&err, "Subscribe(%s, %s)", orgID, siteID)
	what, err := s.subscriptionTarget(ctx, a, &orgID, siteID)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		added, err := tx.CreateSubscription(ctx, &store.Subscription{ID: newID(), UserID: a.User.ID, OrgID: orgID, SiteID: siteID, Created: s.clock()})
		if err != nil || !added {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Turned on email notifications for "+what, nil, subscriptionFields(orgID, siteID))
	})
}

// Unsubscribe turns off the actor's notifications for an organization
// (siteID "") or a site. Turning off what is off changes nothing; an
// organization or site the actor does not see, and has no subscription
// to, is not found.
func (s *Service) Unsubscribe(ctx context.Context, a *Actor, orgID, siteID string) (err error) {
	defer wrap(&err, "Unsubscribe(%s, %s)", orgID, siteID)
	what, err := s.subscriptionTarget(ctx, a, &orgID, siteID)
	if err != nil {
		// Access lost: the subscription may still be ended.
		subs, lerr := s.db.ListSubscriptions(ctx, a.User.ID)
		if lerr != nil {
			return lerr
		}
		i := slices.IndexFunc(subs, func(x *store.Subscription) bool {
			return siteID == "" && x.OrgID == orgID && x.SiteID == "" || siteID != "" && x.SiteID == siteID
		})
		if i < 0 {
			return err
		}
		orgID, what = subs[i].OrgID, describeSubscription(subs[i].OrgName, subs[i].SiteName)
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		ended, err := tx.DeleteSubscription(ctx, a.User.ID, orgID, siteID)
		if err != nil || !ended {
			return err
		}
		return w.audit(ctx, a.User, a.IP, "", "", "Turned off email notifications for "+what, subscriptionFields(orgID, siteID), nil)
	})
}

// subscriptionTarget checks that the actor sees the organization or site
// and returns its description; for a site it sets *orgID to the site's
// organization.
func (s *Service) subscriptionTarget(ctx context.Context, a *Actor, orgID *string, siteID string) (string, error) {
	if siteID != "" {
		site, _, err := s.authorizeSite(ctx, a, siteID, ActViewSite)
		if err != nil {
			return "", err
		}
		o, err := s.db.GetOrg(ctx, site.OrgID)
		if err != nil {
			return "", err
		}
		*orgID = site.OrgID
		return describeSubscription(o.Name, site.Name), nil
	}
	if _, err := s.authorize(ctx, a, *orgID, ActViewOrg); err != nil {
		return "", err
	}
	o, err := s.db.GetOrg(ctx, *orgID)
	if err != nil {
		return "", err
	}
	return describeSubscription(o.Name, ""), nil
}

func describeSubscription(orgName, siteName string) string {
	if siteName == "" {
		return "organization " + orgName
	}
	return "site " + siteName + " of " + orgName
}

func subscriptionFields(orgID, siteID string) map[string]any {
	m := map[string]any{"org_id": orgID}
	if siteID != "" {
		m["site_id"] = siteID
	}
	return m
}

// ListSubscriptions returns the actor's subscriptions to what they still
// see, by organization name, each organization's own first.
func (s *Service) ListSubscriptions(ctx context.Context, a *Actor) (_ []Subscription, err error) {
	defer wrap(&err, "ListSubscriptions")
	subs, err := s.db.ListSubscriptions(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	privs, err := s.db.ListPrivileges(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	out := []Subscription{}
	for _, x := range subs {
		acc := accessFrom(privs, x.OrgID)
		if !acc.member() || x.SiteID != "" && !acc.canSeeSite(x.SiteID) {
			continue
		}
		out = append(out, Subscription{OrgID: x.OrgID, OrgName: x.OrgName, SiteID: x.SiteID, SiteName: x.SiteName})
	}
	return out, nil
}

// accessFrom is accessTo's access from privileges already loaded.
func accessFrom(privs []*portal.Privilege, orgID string) access {
	acc := access{siteRoles: map[string]string{}}
	for _, p := range privs {
		if p.OrgID != orgID {
			continue
		}
		if p.Scope == portal.ScopeOrg {
			acc.orgRole = p.Role
		} else {
			acc.siteRoles[p.SiteID] = p.Role
		}
	}
	return acc
}

// notifiedChanges are the beginnings of the audit messages of organization
// changes that subscribers are told about.
var notifiedChanges = []string{
	"Created site ", "Deleted site ", "Updated site ",
	"Invited ", "Changed the role of ", "Revoked the access of ",
	"Updated organization ", "Updated password policy", "Updated audit log retention",
}

// notifyAudit queues, for an audit entry of a notified organization
// change, a notification for each subscriber; writer.audit calls it.
func (w *writer) notifyAudit(ctx context.Context, orgID, siteID, message string, before, after map[string]any) error {
	if orgID == "" || orgID == portal.NilID || !slices.ContainsFunc(notifiedChanges, func(p string) bool { return strings.HasPrefix(message, p) }) {
		return nil
	}
	if siteID == portal.NilID {
		siteID = ""
	}
	siteName := ""
	if siteID != "" {
		for _, m := range []map[string]any{after, before} {
			if n, ok := m["name"].(string); ok && siteName == "" {
				siteName = n
			}
		}
	}
	now := w.s.clock()
	return w.notify(ctx, &store.Notification{OrgID: orgID, SiteID: siteID, SiteName: siteName, Kind: KindOrgChange,
		Severity: "info", Text: message, EventTime: now, Created: now})
}

// insertEvent stores a device event and queues its notification for each
// subscriber of its organization or site, in the event's transaction
// (events.go stores every event through it).
func (s *Service) insertEvent(ctx context.Context, tx *store.Tx, ev *store.DeviceEvent) error {
	if err := tx.InsertDeviceEvent(ctx, ev); err != nil {
		return err
	}
	subs, err := tx.Subscribers(ctx, ev.OrgID, ev.SiteID)
	if err != nil || len(subs) == 0 {
		return err
	}
	d, err := tx.GetDevice(ctx, ev.OrgID, ev.DeviceID)
	if err != nil {
		return err
	}
	siteName := ""
	if ev.SiteID != "" {
		site, err := tx.GetSite(ctx, ev.SiteID)
		if err != nil {
			return err
		}
		siteName = site.Name
	}
	text := ev.Type
	if d.Name != "" {
		text = d.Name + " (" + d.Serial + "): " + ev.Type
	} else {
		text = d.Serial + ": " + ev.Type
	}
	if ev.Text != "" {
		text += " — " + ev.Text
	}
	w := &writer{s: s, tx: tx}
	return w.notifyTo(ctx, subs, &store.Notification{OrgID: ev.OrgID, SiteID: ev.SiteID, SiteName: siteName, Kind: ev.Type,
		Severity: ev.Severity, Text: text, MAC: d.MAC, EventTime: ev.Time, Created: s.clock()})
}

// notify queues n for every subscriber its organization or site reaches,
// once per user (through the organization's subscription when the user
// has both).
func (w *writer) notify(ctx context.Context, n *store.Notification) error {
	subs, err := w.tx.Subscribers(ctx, n.OrgID, n.SiteID)
	if err != nil {
		return err
	}
	return w.notifyTo(ctx, subs, n)
}

// notifyTo is notify to the subscriptions already found.
func (w *writer) notifyTo(ctx context.Context, subs []*store.Subscription, n *store.Notification) error {
	chosen := map[string]*store.Subscription{}
	var users []string
	for _, x := range subs {
		cur, ok := chosen[x.UserID]
		if !ok {
			users = append(users, x.UserID)
		}
		if !ok || cur.SiteID != "" && x.SiteID == "" {
			chosen[x.UserID] = x
		}
	}
	for _, u := range users {
		c := *n
		c.ID, c.UserID, c.SubscriptionID = newID(), u, chosen[u].ID
		if err := w.tx.QueueNotification(ctx, &c); err != nil {
			return err
		}
	}
	if len(users) > 0 && n.Severity == "critical" {
		// Wake the digest loop once this is committed: woken before, it
		// would find nothing and the mail would wait for its next tick.
		w.tx.AfterCommit(func() {
			select {
			case w.s.notify.wake <- struct{}{}:
			default:
			}
		})
	}
	return nil
}

// visible reports whether a user with privs may still be told n: site
// changes and events of a site they see (device events: whose inventory
// they see), the organization's own changes only to a Super User of it.
func visible(privs []*portal.Privilege, n *store.Notification) bool {
	acc := accessFrom(privs, n.OrgID)
	switch {
	case !acc.member():
		return false
	case n.Kind == KindOrgChange && n.SiteID == "":
		return acc.isAdmin()
	case n.Kind == KindOrgChange:
		return acc.canSeeSite(n.SiteID)
	default:
		return acc.can(ActViewInventory, n.SiteID)
	}
}

// SendDigests sends the digests that are due: for each user whose oldest
// pending notification is a window old, or who has a critical one, one
// mail with all of them. It returns how many mails it queued. Several
// instances may run it at once: each digest goes out once.
func (s *Service) SendDigests(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "SendDigests")
	users, err := s.db.DueDigests(ctx, s.clock().Add(-s.notify.window), digestBatch)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, u := range users {
		ok, err := s.sendDigest(ctx, u)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// sendDigest claims a user's pending notifications and queues their
// digest, in one transaction; false when another instance claimed them
// first or the user may see none of them any more.
func (s *Service) sendDigest(ctx context.Context, userID string) (bool, error) {
	sent := false
	err := s.write(ctx, func(tx *store.Tx, w *writer) error {
		digestID := newID()
		ns, err := tx.ClaimNotifications(ctx, userID, digestID, s.clock())
		if err != nil || len(ns) == 0 {
			return err
		}
		u, err := tx.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if u.Disabled() {
			return nil
		}
		privs, err := tx.ListPrivileges(ctx, userID)
		if err != nil {
			return err
		}
		ns = slices.DeleteFunc(ns, func(n *store.Notification) bool { return !visible(privs, n) })
		if len(ns) == 0 {
			return nil // claimed, and dropped: access lost
		}
		data, header, err := s.digestData(ctx, w, u, ns)
		if err != nil {
			return err
		}
		subject, text, html, err := mail.Render("notify_digest", data)
		if err != nil {
			return err
		}
		w.mails++
		sent = true
		return tx.EnqueueMail(ctx, &portal.OutboxMessage{ID: digestID, To: u.Email, Subject: subject, Text: text, HTML: html,
			CreatedTime: s.clock(), ListUnsubscribe: header})
	})
	return sent, err
}

// digestData groups ns by organization and site, in the user's display
// preferences, with an unsubscribe link for each subscription and one
// (the List-Unsubscribe header's) for all of them.
func (s *Service) digestData(ctx context.Context, w *writer, u *portal.User, ns []*store.Notification) (mail.LinkData, string, error) {
	prefs := Prefs(u) // self.go
	type key struct{ org, site string }
	var groups []*mail.DigestGroup
	index := map[key]*mail.DigestGroup{}
	subsOf := map[*mail.DigestGroup][]string{}
	var all []string
	var names []string
	for _, n := range ns {
		k := key{n.OrgID, n.SiteID}
		g, ok := index[k]
		if !ok {
			g = &mail.DigestGroup{Org: n.OrgName, Site: n.SiteName}
			if n.SiteID != "" && g.Site == "" {
				g.Site = "(a site)"
			}
			index[k] = g
			groups = append(groups, g)
		}
		if !slices.Contains(subsOf[g], n.SubscriptionID) {
			subsOf[g] = append(subsOf[g], n.SubscriptionID)
		}
		if !slices.Contains(all, n.SubscriptionID) {
			all = append(all, n.SubscriptionID)
			names = append(names, n.OrgName)
		}
		item := mail.DigestItem{Time: prefs.Time(n.EventTime), Severity: n.Severity, Text: n.Text}
		if n.MAC != "" {
			item.MAC = prefs.MAC(n.MAC)
		}
		g.Items = append(g.Items, item)
	}
	// Organizations first, then their sites, by name.
	slices.SortStableFunc(groups, func(a, b *mail.DigestGroup) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		if (a.Site == "") != (b.Site == "") {
			if a.Site == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Site, b.Site)
	})
	subs, err := w.tx.ListSubscriptions(ctx, u.ID)
	if err != nil {
		return mail.LinkData{}, "", err
	}
	describe := func(ids []string) string {
		var parts []string
		for _, x := range subs {
			if slices.Contains(ids, x.ID) {
				parts = append(parts, describeSubscription(x.OrgName, x.SiteName))
			}
		}
		return strings.Join(parts, ", ")
	}
	token := func(ids []string) (string, error) {
		t, err := authn.NewToken()
		if err != nil {
			return "", err
		}
		err = w.tx.InsertUnsubscribeToken(ctx, &store.UnsubscribeToken{Hash: authn.HashToken(t), UserID: u.ID, SubscriptionIDs: ids,
			Description: "email notifications for " + describe(ids), Created: s.clock()})
		return s.link(UnsubscribePath + t), err
	}
	header, err := token(all)
	if err != nil {
		return mail.LinkData{}, "", err
	}
	for _, g := range groups {
		if len(all) == 1 {
			break // the mail's own link is the one
		}
		if g.Unsubscribe, err = token(subsOf[g]); err != nil {
			return mail.LinkData{}, "", err
		}
	}
	count := 0
	for _, g := range groups {
		count += len(g.Items)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return mail.LinkData{Name: u.Name(), Email: u.Email, Link: s.link(NotificationSettingsPath), BaseURL: s.baseURL,
		OrgName: strings.Join(names, ", "), Digest: groups, Unsubscribe: header, Count: count}, header, nil
}

// UnsubscribePath is where a notification mail's one-click unsubscribe
// link points, followed by the token.
const UnsubscribePath = "/unsubscribe/"

// NotificationSettingsPath is the page of the notification settings.
const NotificationSettingsPath = "/account/notifications"

// UnsubscribeLink is what a one-click unsubscribe link turns off.
type UnsubscribeLink struct {
	Description string // "email notifications for organization Acme"
	// Done: the link was used (or what it ends is already off).
	Done bool
}

// UnsubscribeInfo returns what a one-click unsubscribe link turns off,
// without changing anything (the GET of the link).
func (s *Service) UnsubscribeInfo(ctx context.Context, token string) (_ *UnsubscribeLink, err error) {
	defer wrap(&err, "UnsubscribeInfo")
	t, err := s.unsubscribeToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return &UnsubscribeLink{Description: t.Description, Done: !t.Used.IsZero()}, nil
}

// OneClickUnsubscribe ends the subscriptions of a one-click unsubscribe
// link, without a session: the token is the authority, and it ends only
// what its mail came from (RFC 8058). Using it again changes nothing.
func (s *Service) OneClickUnsubscribe(ctx context.Context, c Client, token string) (_ *UnsubscribeLink, err error) {
	defer wrap(&err, "OneClickUnsubscribe")
	t, err := s.unsubscribeToken(ctx, token)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		n, err := tx.DeleteSubscriptionsByID(ctx, t.UserID, t.SubscriptionIDs)
		if err != nil {
			return err
		}
		if err := tx.UseUnsubscribeToken(ctx, t.Hash, s.clock()); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		u, err := tx.GetUser(ctx, t.UserID)
		if err != nil {
			return err
		}
		return w.audit(ctx, u, c.IP, "", "", "Turned off "+t.Description+" (unsubscribe link)", map[string]any{"subscriptions": len(t.SubscriptionIDs)}, nil)
	})
	if err != nil {
		return nil, err
	}
	return &UnsubscribeLink{Description: t.Description, Done: true}, nil
}

func (s *Service) unsubscribeToken(ctx context.Context, token string) (*store.UnsubscribeToken, error) {
	if len(token) < 16 || len(token) > 128 {
		return nil, portal.Errorf(portal.ENOTFOUND, "this unsubscribe link is not valid: it may be cut short; open the notification settings instead")
	}
	t, err := s.db.GetUnsubscribeToken(ctx, authn.HashToken(token))
	if err != nil {
		if portal.ErrorCode(err) == portal.ENOTFOUND {
			return nil, portal.Errorf(portal.ENOTFOUND, "this unsubscribe link is not valid: it may be cut short; open the notification settings instead")
		}
		return nil, err
	}
	return t, nil
}

// runDigests sends the due digests, logging failures (RunCleanup).
func (s *Service) runDigests(ctx context.Context) {
	if n, err := s.SendDigests(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("notification digests failed", "err", err)
	} else if n > 0 {
		s.log.Info("notification digests", "mails", n)
	}
}

// digestTick is how often the background work looks for due digests.
func (s *Service) digestTick() time.Duration {
	return max(s.notify.window/4, 100*time.Millisecond)
}

// OrgNotifications is the state of the actor's notifications in one
// organization: for all of it, or for some of its sites.
type OrgNotifications struct {
	OrgID, OrgName string
	Whole          bool // the organization's subscription: every site
	Sites          int  // sites subscribed one by one
}

// On reports whether any notification of the organization is on.
func (o OrgNotifications) On() bool { return o.Whole || o.Sites > 0 }

// NotificationOverview returns the state of the actor's notifications in
// each organization they belong to, in the order of their privileges.
func (s *Service) NotificationOverview(ctx context.Context, a *Actor) (_ []OrgNotifications, err error) {
	defer wrap(&err, "NotificationOverview")
	privs, err := s.db.ListPrivileges(ctx, a.User.ID)
	if err != nil {
		return nil, err
	}
	subs, err := s.ListSubscriptions(ctx, a)
	if err != nil {
		return nil, err
	}
	var out []OrgNotifications
	seen := map[string]int{}
	for _, p := range privs {
		if _, ok := seen[p.OrgID]; !ok {
			seen[p.OrgID] = len(out)
			out = append(out, OrgNotifications{OrgID: p.OrgID, OrgName: p.OrgName})
		}
	}
	for _, x := range subs {
		i, ok := seen[x.OrgID]
		if !ok {
			continue
		}
		if x.SiteID == "" {
			out[i].Whole = true
		} else {
			out[i].Sites++
		}
	}
	return out, nil
}

// SiteNotification is one site's toggle on the notification settings.
type SiteNotification struct {
	ID, Name string
	On       bool // subscribed to the site itself
}

// NotificationSettings is the "Enable Email Notifications" page of one
// organization: its toggle and those of the sites the actor sees.
type NotificationSettings struct {
	OrgID, OrgName string
	Whole          bool
	Sites          []SiteNotification // those matching the search, by name
	TotalSites     int                // all the actor sees
	On             int                // sites subscribed one by one
}

// NotificationSettingsOf returns the actor's notification settings for an
// organization they belong to; query keeps the sites whose name contains
// it (any case).
func (s *Service) NotificationSettingsOf(ctx context.Context, a *Actor, orgID, query string) (_ *NotificationSettings, err error) {
	defer wrap(&err, "NotificationSettingsOf(%s)", orgID)
	o, err := s.GetOrg(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	sites, _, err := s.ListSites(ctx, a, orgID, portal.Page{Limit: portal.MaxPageLimit, Page: 1})
	if err != nil {
		return nil, err
	}
	for page := 2; len(sites) == (page-1)*portal.MaxPageLimit; page++ {
		more, _, err := s.ListSites(ctx, a, orgID, portal.Page{Limit: portal.MaxPageLimit, Page: page})
		if err != nil {
			return nil, err
		}
		sites = append(sites, more...)
	}
	subs, err := s.ListSubscriptions(ctx, a)
	if err != nil {
		return nil, err
	}
	on := map[string]bool{}
	out := &NotificationSettings{OrgID: o.ID, OrgName: o.Name, TotalSites: len(sites)}
	for _, x := range subs {
		switch {
		case x.OrgID != orgID:
		case x.SiteID == "":
			out.Whole = true
		default:
			on[x.SiteID] = true
			out.On++
		}
	}
	q := strings.ToLower(strings.TrimSpace(query))
	for _, site := range sites {
		if q == "" || strings.Contains(strings.ToLower(site.Name), q) {
			out.Sites = append(out.Sites, SiteNotification{ID: site.ID, Name: site.Name, On: on[site.ID]})
		}
	}
	return out, nil
}
