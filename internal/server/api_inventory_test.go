package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"portal"
	"portal/internal/mistspec"
	"portal/internal/store"
	"portal/internal/testenv"
)

// invEnv is an organization (a fixture: sites "Mine" and "Other") with a
// Network Admin of it, who calls with an API token.
type invEnv struct {
	t    *testing.T
	st   *testenv.Stack
	spec *mistspec.Spec
	f    *fixture
}

func (e *invEnv) call(key, method, path string, body any) (int, map[string]any, []map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	r := sendRaw(e.t, e.st, e.st.Client(), method, path, rd, body != nil, map[string]string{"Authorization": "Token " + key})
	checkAPIResponse(e.t, e.spec, method, path, r)
	var obj map[string]any
	var list []map[string]any
	if bytes.HasPrefix(bytes.TrimSpace(r.Body), []byte("[")) {
		_ = json.Unmarshal(r.Body, &list)
	} else {
		_ = json.Unmarshal(r.Body, &obj)
	}
	return r.Status, obj, list
}

// member adds a user with role (for the organization, or for siteID) and
// returns their API token.
func (e *invEnv) member(orgID, siteID, role string) string {
	e.t.Helper()
	ctx := context.Background()
	now := e.st.Clock.Now()
	var key string
	err := e.st.DB.Write(ctx, func(tx *store.Tx) error {
		u := &portal.User{ID: uuid.NewString(), Email: uuid.NewString() + "@example.com", FirstName: role, LastName: "Member",
			PasswordHash: fixtureHash(), EmailVerified: true, PasswordModifiedTime: now, CreatedTime: now, ModifiedTime: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		p := &portal.Privilege{ID: uuid.NewString(), UserID: u.ID, OrgID: orgID, SiteID: siteID, Scope: portal.ScopeOrg, Role: role}
		if siteID != "" {
			p.Scope = portal.ScopeSite
		}
		if err := tx.CreatePrivilege(ctx, p, now.UnixMilli()); err != nil {
			return err
		}
		var err error
		key, err = mkAPIToken(tx, u.ID, "collector", now)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

func results(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, _ := body["results"].([]any)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i], _ = r.(map[string]any)
	}
	return out
}

// wantRefused checks that result i was refused with a reason containing want.
func wantRefused(t *testing.T, res []map[string]any, i int, want string) {
	t.Helper()
	got, _ := res[i]["error"].(string)
	if !strings.Contains(got, want) {
		t.Errorf("item %d: error %q, want one saying %q (%v)", i+1, got, want, res[i])
	}
}

// TestInventoryAPI: adding devices (each good one kept, each bad one
// refused with its reason), listing with filters and search in any MAC
// format, assigning in Mist's shape, renaming and removing; on both
// databases.
func TestInventoryAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		e := &invEnv{t: t, st: st, spec: spec, f: newFixture(t, st, principal{name: "write@org", role: portal.RoleWrite, scope: "org"})}
		f := e.f
		inv := "/api/v1/orgs/" + f.org.ID + "/inventory"

		status, body, _ := e.call(f.apiKey, "POST", inv+"/devices", map[string]any{"devices": []any{
			map[string]any{"serial": "a1000", "mac": "AABB.CC00.0001", "name": "Lobby AP", "model": "AP45", "site_id": "mine"},
			map[string]any{"serial": "A2000", "mac": "aa-bb-cc-00-00-02", "name": "Spare"},
			map[string]any{"serial": "A3000", "mac": "aa:bb:cc:00:00:zz"},
			map[string]any{"serial": "A1000", "mac": "aa:bb:cc:00:00:04"},
			map[string]any{"serial": "A5000", "mac": "aa:bb:cc:00:00:05", "site_id": "Nowhere"},
			map[string]any{"serial": "", "mac": "aa:bb:cc:00:00:06"},
			map[string]any{"serial": "A7000", "mac": "AABBCC000001"},
		}})
		if status != 200 || body["added"] != 2.0 || body["refused"] != 5.0 {
			t.Fatalf("add: %d %v", status, body)
		}
		res := results(t, body)
		wantRefused(t, res, 2, "is not a MAC address")
		wantRefused(t, res, 3, "serial A1000 is also in item 1")
		wantRefused(t, res, 4, `unknown site "Nowhere"`)
		wantRefused(t, res, 5, "serial is required")
		wantRefused(t, res, 6, "is also in item 1")
		lobby := res[0]["device"].(map[string]any)
		if lobby["mac"] != "aabbcc000001" || lobby["serial"] != "A1000" || lobby["site_id"] != f.site.ID || lobby["status"] != "disconnected" {
			t.Errorf("added device: %v", lobby)
		}
		spare := res[1]["device"].(map[string]any)

		// Already in the inventory: refused, the new one beside it kept.
		_, body, _ = e.call(f.apiKey, "POST", inv+"/devices", map[string]any{"devices": []any{
			map[string]any{"serial": "A1000", "mac": "aa:bb:cc:00:00:09"},
			map[string]any{"serial": "A9000", "mac": "aabb.cc00.0002"},
			map[string]any{"serial": "A8000", "mac": "aa:bb:cc:00:00:08", "site_id": f.other.ID},
		}})
		res = results(t, body)
		wantRefused(t, res, 0, "serial A1000 is already in the inventory")
		wantRefused(t, res, 1, "MAC address aa:bb:cc:00:00:02 is already in the inventory")
		if body["added"] != 1.0 {
			t.Errorf("second add: %v", body)
		}

		// More than 10,000 at once: refused whole, nothing added.
		many := make([]any, 10001)
		for i := range many {
			many[i] = map[string]any{"serial": fmt.Sprintf("M%05d", i), "mac": fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&255)}
		}
		status, body, _ = e.call(f.apiKey, "POST", inv+"/devices", map[string]any{"devices": many})
		if status != 400 || !strings.Contains(body["detail"].(string), "10000") {
			t.Errorf("10,001 devices: %d %v", status, body)
		}

		// Search: by MAC in each format and any case, by name, by serial.
		for _, q := range []string{"AA:BB:CC:00:00:01", "aa-bb-cc-00-00-01", "AABB.CC00.0001", "cc:00:00:01", "lobby", "a1000"} {
			status, _, list := e.call(f.apiKey, "GET", inv+"?q="+q, nil)
			if status != 200 || len(list) != 1 || list[0]["serial"] != "A1000" {
				t.Errorf("search %q: %d %v", q, status, list)
			}
		}
		if _, _, list := e.call(f.apiKey, "GET", inv+"?site_id="+f.other.ID, nil); len(list) != 1 || list[0]["serial"] != "A8000" {
			t.Errorf("filter by site: %v", list)
		}
		if _, _, list := e.call(f.apiKey, "GET", inv+"?limit=2&page=2", nil); len(list) != 1 {
			t.Errorf("page 2 of 3 devices by 2: %v", list)
		}
		if status, body, _ := e.call(f.apiKey, "GET", inv+"?status=broken", nil); status != 400 {
			t.Errorf("bad status filter: %d %v", status, body)
		}

		// Assign (Mist's PUT): one done, a malformed and an unknown MAC refused.
		status, body, _ = e.call(f.apiKey, "PUT", inv, map[string]any{"op": "assign", "site_id": f.other.ID,
			"macs": []string{"AA-BB-CC-00-00-02", "nonsense", "aa:bb:cc:99:99:99"}})
		if status != 200 || fmt.Sprint(body["success"]) != "[aabbcc000002]" || len(body["error"].([]any)) != 2 || len(body["reason"].([]any)) != 2 {
			t.Fatalf("assign: %d %v", status, body)
		}
		if status, _, _ := e.call(f.apiKey, "PUT", inv, map[string]any{"op": "assign", "site_id": uuid.NewString(), "macs": []string{"aabbcc000002"}}); status != 404 {
			t.Errorf("assign to an unknown site: %d", status)
		}
		if status, _, _ := e.call(f.apiKey, "PUT", inv, map[string]any{"op": "explode", "macs": []string{"aabbcc000002"}}); status != 400 {
			t.Errorf("unknown op: %d", status)
		}

		// Rename; a name too long is refused.
		dev := inv + "/devices/" + lobby["id"].(string)
		if status, body, _ := e.call(f.apiKey, "PUT", dev, map[string]any{"name": "Front desk"}); status != 200 || body["name"] != "Front desk" {
			t.Errorf("rename: %d %v", status, body)
		}
		if status, body, _ := e.call(f.apiKey, "PUT", dev, map[string]any{"name": strings.Repeat("x", 65)}); status != 400 {
			t.Errorf("long name: %d %v", status, body)
		}

		// An Observer reads but may not change.
		observer := e.member(f.org.ID, "", portal.RoleRead)
		if status, _, list := e.call(observer, "GET", inv, nil); status != 200 || len(list) != 3 {
			t.Errorf("observer lists: %d %v", status, list)
		}
		if status, body, _ := e.call(observer, "PUT", dev, map[string]any{"name": "x"}); status != 403 {
			t.Errorf("observer renames: %d %v", status, body)
		}
		// An Installer of the other site sees only its devices.
		installer := e.member(f.org.ID, f.other.ID, portal.RoleInstaller)
		if _, _, list := e.call(installer, "GET", inv, nil); len(list) != 2 {
			t.Errorf("installer of Other sees %v, want its 2 devices", list)
		}
		// ...and may not take them off their site (unassigned devices are
		// the whole organization's).
		if status, body, _ := e.call(installer, "PUT", inv, map[string]any{"op": "unassign", "macs": []string{"aabbcc000002"}}); status != 403 {
			t.Errorf("installer unassigns: %d %v", status, body)
		}

		// Remove.
		if status, _, _ := e.call(f.apiKey, "DELETE", inv+"/devices/"+spare["id"].(string), nil); status != 200 {
			t.Errorf("remove: %d", status)
		}
		if _, _, list := e.call(f.apiKey, "GET", inv, nil); len(list) != 2 {
			t.Errorf("after removal: %v", list)
		}
		if status, _, _ := e.call(f.apiKey, "DELETE", inv+"/devices/"+spare["id"].(string), nil); status != 404 {
			t.Errorf("remove twice: %d", status)
		}
	})
}

// TestDeviceEventsAPI: a batch of events with good and bad items (unknown
// device, future time, oversized text, a site of another organization, no
// write access to the device's site): the good ones stored, each bad one
// refused with its reason; a token without write access refused whole;
// events mark devices connected; silence marks them disconnected with
// device_down, and the next event raises device_up. Both databases.
func TestDeviceEventsAPI(t *testing.T) {
	spec := mistspec.Load(t)
	testenv.ForEachDialect(t, func(t *testing.T, d store.Dialect) {
		st := testenv.NewStack(t, d)
		e := &invEnv{t: t, st: st, spec: spec, f: newFixture(t, st, principal{name: "write@org", role: portal.RoleWrite, scope: "org"})}
		f := e.f
		foreign := newFixture(t, st, principal{name: "admin@org", role: portal.RoleAdmin, scope: "org"})
		base := "/api/v1/orgs/" + f.org.ID
		_, body, _ := e.call(f.apiKey, "POST", base+"/inventory/devices", map[string]any{"devices": []any{
			map[string]any{"serial": "E1", "mac": "00:11:22:33:44:01", "site_id": f.site.ID},
			map[string]any{"serial": "E2", "mac": "00:11:22:33:44:02", "site_id": f.other.ID},
		}})
		if body["added"] != 2.0 {
			t.Fatalf("add: %v", body)
		}
		now := st.Clock.Now()
		status, body, _ := e.call(f.apiKey, "POST", base+"/events", map[string]any{"events": []any{
			map[string]any{"mac": "0011.2233.4401", "type": "config_changed", "severity": "info", "text": "vlan 20 added", "timestamp": now.Add(-time.Minute).Unix()},
			map[string]any{"mac": "00:11:22:33:44:99", "type": "device_up"},
			map[string]any{"serial": "e2", "type": "device_up", "timestamp": now.Add(time.Hour).Unix()},
			map[string]any{"serial": "E2", "type": "config_changed", "text": strings.Repeat("x", 1001)},
			map[string]any{"serial": "E2", "type": "config_changed", "site_id": foreign.site.ID},
			map[string]any{"serial": "E2", "type": "config_changed", "severity": "apocalyptic"},
			map[string]any{"serial": "e2", "type": "device_up"},
			map[string]any{"serial": "E2", "type": "config_changed", "timestamp": -5},
		}})
		if status != 200 || body["accepted"] != 2.0 || body["refused"] != 6.0 {
			t.Fatalf("events: %d %v", status, body)
		}
		res := results(t, body)
		wantRefused(t, res, 1, "unknown device")
		wantRefused(t, res, 2, "in the future")
		wantRefused(t, res, 3, "1001 characters long; at most 1000")
		wantRefused(t, res, 4, "belongs to another organization")
		wantRefused(t, res, 5, "severity")
		wantRefused(t, res, 7, "not a time an event can have")
		if _, _, list := e.call(f.apiKey, "GET", base+"/inventory?status=connected", nil); len(list) != 2 {
			t.Errorf("connected after their events: %v", list)
		}

		// A token without write access: refused whole.
		observer := e.member(f.org.ID, "", portal.RoleRead)
		if status, body, _ := e.call(observer, "POST", base+"/events", map[string]any{"events": []any{map[string]any{"serial": "E1", "type": "device_up"}}}); status != 403 {
			t.Errorf("observer reports: %d %v", status, body)
		}
		// An Installer of Other: its device's event kept, Mine's refused.
		installer := e.member(f.org.ID, f.other.ID, portal.RoleInstaller)
		status, body, _ = e.call(installer, "POST", base+"/events", map[string]any{"events": []any{
			map[string]any{"serial": "E1", "type": "config_changed"},
			map[string]any{"serial": "E2", "type": "config_changed"},
		}})
		res = results(t, body)
		if status != 200 || body["accepted"] != 1.0 || res[1]["id"] == nil {
			t.Fatalf("installer's events: %d %v", status, body)
		}
		wantRefused(t, res, 0, "no write access")
		// A batch that is not JSON, or too large.
		if status, _, _ := e.call(f.apiKey, "POST", base+"/events", map[string]any{"events": make([]any, 1001)}); status != 400 {
			t.Errorf("1001 events: %d", status)
		}

		// Silence: after the timeout both are marked disconnected with a
		// device_down event each, once.
		st.Clock.Advance(11 * time.Minute)
		n, err := st.Service.DetectSilentDevices(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("DetectSilentDevices: %d %v", n, err)
		}
		if n, _ := st.Service.DetectSilentDevices(context.Background()); n != 0 {
			t.Errorf("second run marked %d again", n)
		}
		if _, _, list := e.call(f.apiKey, "GET", base+"/inventory?status=disconnected", nil); len(list) != 2 {
			t.Errorf("disconnected after silence: %v", list)
		}
		// E1 reports again: device_up first, then its event.
		st.Clock.Advance(time.Second)
		if _, body, _ := e.call(f.apiKey, "POST", base+"/events", map[string]any{"events": []any{map[string]any{"serial": "E1", "type": "config_changed", "text": "back"}}}); body["accepted"] != 1.0 {
			t.Fatalf("event after silence: %v", body)
		}
		_, _, list := e.call(f.apiKey, "GET", base+"/events?limit=100", nil)
		var types []string
		for _, ev := range list {
			if ev["serial"] == "E1" {
				types = append(types, ev["type"].(string))
			}
		}
		slicesWant := "config_changed device_up device_down config_changed device_up"
		if strings.Join(types, " ") != slicesWant {
			t.Errorf("E1's events, newest first: %v, want %s", types, slicesWant)
		}
		if _, _, list := e.call(f.apiKey, "GET", base+"/inventory?status=connected", nil); len(list) != 1 || list[0]["serial"] != "E1" {
			t.Errorf("connected after device_up: %v", list)
		}
		// The installer of Other reads only Other's events.
		if _, _, list := e.call(installer, "GET", base+"/events?limit=100", nil); len(list) != 3 {
			t.Errorf("installer sees %d events, want E2's 3 (device_up, config_changed, device_down)", len(list))
		}
	})
}
