package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/app"
	"portal/internal/format"
	"portal/internal/mistspec"
	"portal/internal/smtptest"
	"portal/internal/store"
	"portal/internal/testenv"
)

// notifyWorld is an organization with two sites and a device on each, and
// members with sessions, for the notification tests.
type notifyWorld struct {
	st        *testenv.Stack
	spec      *mistspec.Spec
	org       *portal.Org
	siteA     *portal.Site
	siteB     *portal.Site
	devA      *store.Device
	devB      *store.Device
	users     map[string]*notifyUser
	ownerAuth *app.Actor
}

type notifyUser struct {
	u             *portal.User
	session, csrf string
}

var notifySeq int

// newNotifyWorld makes the world; members maps a name to "role@org" or
// "role@A" (site A); their MAC format is dash-separated upper case.
func newNotifyWorld(t *testing.T, st *testenv.Stack, spec *mistspec.Spec, members map[string]string) *notifyWorld {
	t.Helper()
	ctx := context.Background()
	now := st.Clock.Now()
	notifySeq++
	w := &notifyWorld{st: st, spec: spec, users: map[string]*notifyUser{}}
	err := st.DB.Write(ctx, func(tx *store.Tx) error {
		w.org = &portal.Org{ID: uuid.NewString(), Name: fmt.Sprintf("Acme %d", notifySeq), SessionExpiry: portal.DefaultSessionExpiry, CreatedTime: now, ModifiedTime: now}
		if err := tx.CreateOrg(ctx, w.org); err != nil {
			return err
		}
		w.siteA = &portal.Site{ID: uuid.NewString(), OrgID: w.org.ID, Name: "Alpha Street", CreatedTime: now, ModifiedTime: now}
		w.siteB = &portal.Site{ID: uuid.NewString(), OrgID: w.org.ID, Name: "Beta Road", CreatedTime: now, ModifiedTime: now}
		for _, s := range []*portal.Site{w.siteA, w.siteB} {
			if err := tx.CreateSite(ctx, s); err != nil {
				return err
			}
		}
		for i, s := range []*portal.Site{w.siteA, w.siteB} {
			d := &store.Device{ID: uuid.NewString(), OrgID: w.org.ID, SiteID: s.ID, Name: "AP " + s.Name, Model: "AP45",
				Serial: fmt.Sprintf("NTF%d%04d", i, notifySeq), MAC: fmt.Sprintf("5c5b35%02x%04x", i+1, notifySeq), Status: store.DeviceConnected, Created: now, Modified: now}
			if err := tx.CreateDevice(ctx, d); err != nil {
				return err
			}
			if i == 0 {
				w.devA = d
			} else {
				w.devB = d
			}
		}
		for name, grant := range members {
			u := &portal.User{ID: uuid.NewString(), Email: fmt.Sprintf("%s-%d@example.com", name, notifySeq), FirstName: name, LastName: "Test",
				PasswordHash: fixtureHash(), EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now,
				MACFormat: format.MACDash, Timezone: "UTC"}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			role, scope, _ := strings.Cut(grant, "@")
			p := &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: w.org.ID, Scope: portal.ScopeOrg, Role: role}
			if scope == "A" {
				p.Scope, p.SiteID = portal.ScopeSite, w.siteA.ID
			}
			if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
				return err
			}
			_, tok, csrf, err := mkSession(tx, u.ID, now)
			if err != nil {
				return err
			}
			w.users[name] = &notifyUser{u: u, session: tok, csrf: csrf}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// api calls the API as a member, checking the answer like every API test.
func (w *notifyWorld) api(t *testing.T, who, method, path string) testenv.Response {
	t.Helper()
	hdr := map[string]string{}
	if nu := w.users[who]; nu != nil {
		hdr["Cookie"] = "sessionid=" + nu.session + "; csrftoken=" + nu.csrf
		hdr["X-CSRFToken"] = nu.csrf
	}
	r := sendRaw(t, w.st, http.DefaultClient, method, path, strings.NewReader(""), false, hdr)
	checkAPIResponse(t, w.spec, method, path, r)
	return r
}

func (w *notifyWorld) actor(name string) *app.Actor {
	return &app.Actor{User: w.users[name].u, IP: "127.0.0.1"}
}

// event reports one event of a device as the owner.
func (w *notifyWorld) event(t *testing.T, d *store.Device, typ, severity, text string) {
	t.Helper()
	res, err := w.st.Service.IngestEvents(context.Background(), w.actor("owner"), w.org.ID,
		[]app.EventInput{{MAC: d.MAC, Type: typ, Severity: severity, Text: text}})
	if err != nil || res[0].Error != "" {
		t.Fatalf("event: %v %+v", err, res)
	}
}

func wantStatus(t *testing.T, r testenv.Response, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
}

// TestNotificationDigests: events of two sites reach the organization's
// subscriber (both sites) and a site's subscriber (theirs only), in their
// MAC format, in one digest each with one-click unsubscribe; a member
// without a subscription and one whose access was revoked get nothing.
// The one-click link works without a session and ends only its own
// subscription; its page changes nothing until its button is pressed.
func TestNotificationDigests(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		ctx := context.Background()
		w := newNotifyWorld(t, st, spec, map[string]string{"owner": "admin@org", "siteuser": "read@A", "nosub": "admin@org", "revoked": "read@org"})
		// The owner reads times in Tokyo on a 24-hour clock.
		tokyo, h24 := "Asia/Tokyo", true
		if _, err := st.Service.UpdateSelf(ctx, w.actor("owner"), app.SelfInput{Timezone: &tokyo, Hour24: &h24}); err != nil {
			t.Fatal(err)
		}
		orgPath := "/api/v1/orgs/" + w.org.ID + "/subscriptions"
		sitePath := func(s *portal.Site) string { return "/api/v1/sites/" + s.ID + "/subscriptions" }

		wantStatus(t, w.api(t, "owner", "POST", orgPath), 200, "owner subscribes to the organization")
		wantStatus(t, w.api(t, "owner", "POST", orgPath), 200, "subscribing again")
		wantStatus(t, w.api(t, "siteuser", "POST", sitePath(w.siteA)), 200, "site user subscribes to their site")
		wantStatus(t, w.api(t, "revoked", "POST", orgPath), 200, "observer subscribes")
		// Bad input: a site one cannot see, an unknown or malformed id,
		// no session.
		wantStatus(t, w.api(t, "siteuser", "POST", sitePath(w.siteB)), 404, "site user subscribes to another site")
		wantStatus(t, w.api(t, "owner", "POST", "/api/v1/sites/"+uuid.NewString()+"/subscriptions"), 404, "unknown site")
		wantStatus(t, w.api(t, "owner", "POST", "/api/v1/orgs/not-an-id/subscriptions"), 404, "malformed organization id")
		wantStatus(t, w.api(t, "", "POST", orgPath), 401, "no session")
		wantStatus(t, w.api(t, "siteuser", "DELETE", sitePath(w.siteB)), 404, "unsubscribing from a site one cannot see")

		r := w.api(t, "owner", "GET", "/api/v1/self/subscriptions")
		wantStatus(t, r, 200, "list")
		if got := w.subscriptions(t, "owner"); len(got) != 1 || got[0]["org_id"] != w.org.ID || got[0]["site_id"] != nil {
			t.Fatalf("owner's subscriptions = %v", got)
		}
		if got := w.subscriptions(t, "siteuser"); len(got) != 1 || got[0]["site_id"] != w.siteA.ID {
			t.Fatalf("site user's subscriptions = %v", got)
		}

		// The owner follows site B on its own too: the organization's
		// subscription carries its events (one notification each), and
		// the one-click link of the organization's mail leaves it on.
		wantStatus(t, w.api(t, "owner", "POST", sitePath(w.siteB)), 200, "owner subscribes to site B too")

		// The observer loses access: nothing more for them, at once.
		if err := st.Service.RevokeAdmin(ctx, w.actor("owner"), w.org.ID, w.users["revoked"].u.ID); err != nil {
			t.Fatal(err)
		}
		w.event(t, w.devA, "device_down", "warning", "uplink lost")
		w.event(t, w.devB, "config_changed", "info", "new SSID")

		// Nothing is due before the window ends.
		if n, err := st.Service.SendDigests(ctx); err != nil || n != 0 {
			t.Fatalf("digests before the window: %d, %v", n, err)
		}
		st.Clock.Advance(st.Service.NotifyWindow())
		if n, err := st.Service.SendDigests(ctx); err != nil || n != 2 {
			t.Fatalf("digests after the window: %d, %v; want 2 (owner and site user)", n, err)
		}
		owner := st.SMTP.WaitFor(t, smtptest.To(w.users["owner"].u.Email), 10*time.Second)
		site := st.SMTP.WaitFor(t, smtptest.To(w.users["siteuser"].u.Email), 10*time.Second)
		macA, macB := format.MAC(w.devA.MAC, format.MACDash), format.MAC(w.devB.MAC, format.MACDash)
		loc, err := time.LoadLocation(tokyo)
		if err != nil {
			t.Fatal(err)
		}
		// Events are stored at the second; the digest shows them in the
		// owner's zone and clock, the site user's in UTC, 12-hour.
		at := w.eventTime(t)
		if want := at.In(loc).Format("2006-01-02 15:04:05 MST"); !strings.Contains(owner.Text, want) {
			t.Errorf("owner's digest lacks the time %q in their preferences:\n%s", want, owner.Text)
		}
		if want := at.UTC().Format("2006-01-02 3:04:05 PM MST"); !strings.Contains(site.Text, want) {
			t.Errorf("site user's digest lacks the time %q:\n%s", want, site.Text)
		}
		for _, want := range []string{"Alpha Street", "Beta Road", macA, macB, "uplink lost", "new SSID", "Revoked the access of " + w.users["revoked"].u.Email} {
			if !strings.Contains(owner.Text, want) || !strings.Contains(owner.HTML, want) {
				t.Errorf("owner's digest lacks %q:\n%s", want, owner.Text)
			}
		}
		for _, want := range []string{"Alpha Street", macA, "uplink lost"} {
			if !strings.Contains(site.Text, want) {
				t.Errorf("site user's digest lacks %q:\n%s", want, site.Text)
			}
		}
		for _, unwanted := range []string{"Beta Road", macB, "new SSID", "Revoked"} {
			if strings.Contains(site.Text, unwanted) || strings.Contains(site.HTML, unwanted) {
				t.Errorf("site user's digest shows %q of what they do not follow:\n%s", unwanted, site.Text)
			}
		}
		// Nobody else: the two digests queued were theirs, and the revoked
		// member's notifications were dropped, not kept for later.
		for _, name := range []string{"nosub", "revoked"} {
			if n, err := st.DB.PendingNotifications(ctx, w.users[name].u.ID); err != nil || n != 0 {
				t.Errorf("%s: %d pending notifications, %v", name, n, err)
			}
		}
		if n, err := st.Service.SendDigests(ctx); err != nil || n != 0 {
			t.Errorf("digests after all were sent: %d, %v", n, err)
		}

		// RFC 8058 headers.
		link := unsubscribeHeader(t, owner)
		if got := owner.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", got)
		}
		path := strings.TrimPrefix(link, st.URL)

		// The link's page says what it turns off and changes nothing.
		page := sendRaw(t, st, http.DefaultClient, "GET", path, nil, false, nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), w.org.Name) || !strings.Contains(string(page.Body), "Turn off") {
			t.Fatalf("unsubscribe page: %d %s", page.Status, page.Body)
		}
		if got := w.subscriptions(t, "owner"); len(got) != 2 {
			t.Fatalf("GET of the link changed the subscriptions: %v", got)
		}
		// One click, without a session, as a mail client sends it.
		oneClick := func() testenv.Response {
			return sendRaw(t, st, http.DefaultClient, "POST", path, strings.NewReader("List-Unsubscribe=One-Click"), true,
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		}
		if r := oneClick(); r.Status != 200 || !strings.Contains(string(r.Body), "Turned off") {
			t.Fatalf("one-click unsubscribe: %d %s", r.Status, r.Body)
		}
		if got := w.subscriptions(t, "owner"); len(got) != 1 || got[0]["site_id"] != w.siteB.ID {
			t.Errorf("owner's subscriptions after one-click of the organization's mail: %v; want site B's only", got)
		}
		if got := w.subscriptions(t, "siteuser"); len(got) != 1 {
			t.Errorf("one-click of the owner's link ended the site user's subscription: %v", got)
		}
		if r := oneClick(); r.Status != 200 {
			t.Errorf("one-click again: %d %s", r.Status, r.Body)
		}
		if r := sendRaw(t, st, http.DefaultClient, "POST", "/unsubscribe/"+strings.Repeat("x", 43), strings.NewReader("List-Unsubscribe=One-Click"), true,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.Status != 404 || !strings.Contains(string(r.Body), "not valid") {
			t.Errorf("unknown link: %d %s", r.Status, r.Body)
		}
		// The owner is told nothing more of site A; the site user still is,
		// and the owner still of site B.
		w.event(t, w.devA, "device_up", "info", "back")
		if n, err := st.DB.PendingNotifications(ctx, w.users["owner"].u.ID); err != nil || n != 0 {
			t.Errorf("owner: %d pending notifications after unsubscribing, %v", n, err)
		}
		w.event(t, w.devB, "config_changed", "info", "again")
		if n, err := st.DB.PendingNotifications(ctx, w.users["owner"].u.ID); err != nil || n != 1 {
			t.Errorf("owner: %d pending notifications of site B, want 1, %v", n, err)
		}
		if n, err := st.DB.PendingNotifications(ctx, w.users["siteuser"].u.ID); err != nil || n != 1 {
			t.Errorf("site user: %d pending notifications, want 1, %v", n, err)
		}
	})
}

// TestNotificationCritical: a critical event's digest is due at once, not
// after the window: the background loop (RunCleanup, running as in portal
// serve, with the injected clock standing still) sends it when the event
// is stored, long before its next round.
func TestNotificationCritical(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		w := newNotifyWorld(t, st, nil, map[string]string{"owner": "admin@org"})
		if err := st.Service.Subscribe(context.Background(), w.actor("owner"), "", w.siteB.ID); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); st.Service.RunCleanup(ctx, time.Hour) }()
		t.Cleanup(func() { cancel(); <-done })
		w.event(t, w.devB, "device_down", "warning", "not critical") // waits for the window
		w.event(t, w.devB, "device_down", "critical", "power lost")
		m := st.SMTP.WaitFor(t, smtptest.To(w.users["owner"].u.Email), 10*time.Second)
		if !strings.Contains(m.Text, "not critical") {
			t.Errorf("the critical digest does not carry the pending notification of the same user:\n%s", m.Text)
		}
		if !strings.Contains(m.Text, "power lost") || !strings.Contains(m.Text, "critical") {
			t.Errorf("critical digest:\n%s", m.Text)
		}
	})
}

// TestNotificationDigestsOnce: two service instances on one database send
// due digests at the same time; each user's digest is queued once.
func TestNotificationDigestsOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		ctx := context.Background()
		members := map[string]string{}
		const users = 12
		for i := range users {
			members[fmt.Sprintf("user%d", i)] = "admin@org"
		}
		members["owner"] = "admin@org" // reports the events, follows nothing
		w := newNotifyWorld(t, st, nil, members)
		for name := range w.users {
			if name == "owner" {
				continue
			}
			if err := st.Service.Subscribe(ctx, w.actor(name), w.org.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			w.event(t, w.devA, "config_changed", "info", "change")
		}
		st.Clock.Advance(st.Service.NotifyWindow())
		other := app.New(app.Options{DB: st.DB, BaseURL: st.URL, Now: st.Clock.Now, MailQueued: st.Worker.Wake})
		var mu sync.Mutex
		total := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, svc := range []*app.Service{st.Service, other, st.Service, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				n, err := svc.SendDigests(ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if total != users {
			t.Fatalf("%d digests queued by two instances, want %d (one per user)", total, users)
		}
		// As many digests as users, and each user has one: one each.
		for name, nu := range w.users {
			if name == "owner" {
				continue
			}
			if !strings.Contains(st.SMTP.WaitFor(t, smtptest.To(nu.u.Email), 10*time.Second).Text, "change") {
				t.Errorf("%s: digest without its events", nu.u.Email)
			}
		}
	})
}

// eventTime is the time of the newest event of the organization.
func (w *notifyWorld) eventTime(t *testing.T) time.Time {
	t.Helper()
	evs, _, err := w.st.Service.ListEvents(context.Background(), w.actor("owner"), w.org.ID, "", portal.Page{Limit: 1, Page: 1})
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v %v", evs, err)
	}
	return evs[0].Time
}

// subscriptions lists a member's subscriptions through the API.
func (w *notifyWorld) subscriptions(t *testing.T, who string) []map[string]any {
	t.Helper()
	r := w.api(t, who, "GET", "/api/v1/self/subscriptions")
	wantStatus(t, r, 200, "list subscriptions")
	var out []map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// unsubscribeHeader returns the URL of a mail's List-Unsubscribe.
func unsubscribeHeader(t *testing.T, m smtptest.Message) string {
	t.Helper()
	h := m.Header.Get("List-Unsubscribe")
	if !strings.HasPrefix(h, "<") || !strings.HasSuffix(h, ">") {
		t.Fatalf("List-Unsubscribe = %q", h)
	}
	link := h[1 : len(h)-1]
	if u, err := url.Parse(link); err != nil || !strings.HasPrefix(u.Path, app.UnsubscribePath) {
		t.Fatalf("List-Unsubscribe link %q", link)
	}
	return link
}
