package server

import (
	"net/http"
	"time"

	"portal/internal/app"
	"portal/internal/store"
)

// The inventory and device events (app/inventory.go, app/events.go).
// GET and PUT /orgs/{org_id}/inventory keep Mist's shapes; adding,
// renaming and removing devices and the events are ours.

// inventoryJSON is a device in Mist's inventory shape (mac: 12 hex
// digits), with our status and last_seen.
type inventoryJSON struct {
	ID           string  `json:"id"`
	OrgID        string  `json:"org_id"`
	SiteID       *string `json:"site_id"`
	Name         string  `json:"name"`
	Model        string  `json:"model"`
	Serial       string  `json:"serial"`
	MAC          string  `json:"mac"`
	Type         string  `json:"type"`
	Connected    bool    `json:"connected"`
	Status       string  `json:"status"`    // ours
	LastSeen     *int64  `json:"last_seen"` // epoch seconds, null: never
	CreatedTime  int64   `json:"created_time"`
	ModifiedTime int64   `json:"modified_time"`
}

func toInventoryJSON(d *store.Device) inventoryJSON {
	out := inventoryJSON{ID: d.ID, OrgID: d.OrgID, Name: d.Name, Model: d.Model, Serial: d.Serial, MAC: d.MAC, Type: "ap",
		Connected: d.Status == store.DeviceConnected, Status: d.Status, CreatedTime: d.Created.Unix(), ModifiedTime: d.Modified.Unix()}
	if d.SiteID != "" {
		out.SiteID = &d.SiteID
	}
	if !d.LastSeen.IsZero() {
		v := d.LastSeen.Unix()
		out.LastSeen = &v
	}
	return out
}

func (s *server) apiListInventory(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	p, err := queryPage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := app.DeviceFilter{Status: q.Get("status"), Search: q.Get("q"), Page: p}
	if v := q.Get("site_id"); v != "" {
		if f.SiteID, err = parseID(v, "site"); err != nil {
			return err
		}
	}
	devices, total, err := s.svc.ListDevices(r.Context(), a, id, f)
	if err != nil {
		return err
	}
	out := []inventoryJSON{}
	for _, d := range devices {
		out = append(out, toInventoryJSON(d))
	}
	setPageHeaders(w, p, total)
	return ok(w, out)
}

// PUT /orgs/{org_id}/inventory: {"op": "assign", "site_id", "macs"} or
// {"op": "unassign", "macs"}; Mist's answer {op, success, error, reason}.
func (s *server) apiAssignInventory(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in struct {
		Op     string   `json:"op"`
		SiteID string   `json:"site_id"`
		MACs   []string `json:"macs"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.SiteID != "" {
		if in.SiteID, err = parseID(in.SiteID, "site"); err != nil {
			return err
		}
	}
	res, err := s.svc.AssignDevices(r.Context(), a, id, in.Op, in.SiteID, in.MACs)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"op": res.Op, "success": res.Success, "error": res.Error, "reason": res.Reason})
}

type deviceRequest struct {
	Name   string `json:"name"`
	Model  string `json:"model"`
	Serial string `json:"serial"`
	MAC    string `json:"mac"`
	SiteID string `json:"site_id"` // a site's id or name
}

// POST /orgs/{org_id}/inventory/devices (ours): {"devices": [...]};
// answers {"added", "refused", "results": [{"device"} or {"error"}]}, one
// result per device in order.
func (s *server) apiAddDevices(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	id, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in struct {
		Devices []deviceRequest `json:"devices"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	items := make([]app.DeviceInput, len(in.Devices))
	for i, d := range in.Devices {
		items[i] = app.DeviceInput{Name: d.Name, Model: d.Model, Serial: d.Serial, MAC: d.MAC, Site: d.SiteID}
	}
	res, err := s.svc.AddDevices(r.Context(), a, id, items)
	if err != nil {
		return err
	}
	return ok(w, addResultsJSON(res))
}

func addResultsJSON(res []app.DeviceResult) map[string]any {
	results := make([]map[string]any, len(res))
	added := 0
	for i, x := range res {
		if x.Device != nil {
			added++
			results[i] = map[string]any{"device": toInventoryJSON(x.Device)}
		} else {
			results[i] = map[string]any{"error": x.Error}
		}
	}
	return map[string]any{"added": added, "refused": len(res) - added, "results": results}
}

func (s *server) apiRenameDevice(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	id, err := pathID(r, "device_id", "device")
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	d, err := s.svc.RenameDevice(r.Context(), a, orgID, id, in.Name)
	if err != nil {
		return err
	}
	return ok(w, toInventoryJSON(d))
}

func (s *server) apiRemoveDevice(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	id, err := pathID(r, "device_id", "device")
	if err != nil {
		return err
	}
	if err := s.svc.RemoveDevice(r.Context(), a, orgID, id); err != nil {
		return err
	}
	return ok(w, map[string]any{})
}

type eventJSON struct {
	ID        string  `json:"id"`
	OrgID     string  `json:"org_id"`
	SiteID    *string `json:"site_id"`
	DeviceID  string  `json:"device_id"`
	MAC       string  `json:"mac"`
	Serial    string  `json:"serial"`
	Name      string  `json:"device_name"`
	Type      string  `json:"type"`
	Severity  string  `json:"severity"`
	Text      string  `json:"text"`
	Timestamp float64 `json:"timestamp"`
}

func toEventJSON(e *store.DeviceEvent) eventJSON {
	out := eventJSON{ID: e.ID, OrgID: e.OrgID, DeviceID: e.DeviceID, MAC: e.DeviceMAC, Serial: e.DeviceSerial, Name: e.DeviceName,
		Type: e.Type, Severity: e.Severity, Text: e.Text, Timestamp: float64(e.Time.UnixMilli()) / 1000}
	if e.SiteID != "" {
		out.SiteID = &e.SiteID
	}
	return out
}

// POST /orgs/{org_id}/events (ours): {"events": [{"mac" or "serial",
// "site_id"?, "type", "severity", "text", "timestamp"?}]}; answers
// {"accepted", "refused", "results": [{"id"} or {"error"}]}.
func (s *server) apiIngestEvents(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	var in struct {
		Events []struct {
			MAC       string   `json:"mac"`
			Serial    string   `json:"serial"`
			SiteID    string   `json:"site_id"`
			Type      string   `json:"type"`
			Severity  string   `json:"severity"`
			Text      string   `json:"text"`
			Timestamp *float64 `json:"timestamp"` // epoch seconds; absent: now
		} `json:"events"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	items := make([]app.EventInput, len(in.Events))
	for i, e := range in.Events {
		items[i] = app.EventInput{MAC: e.MAC, Serial: e.Serial, SiteID: e.SiteID, Type: e.Type, Severity: e.Severity, Text: e.Text}
		switch ts := e.Timestamp; {
		case ts == nil:
		case *ts >= 1e11:
			items[i].Time = time.Unix(1e11, 0) // far ahead: refused as in the future
		case *ts <= 0:
			items[i].Time = time.Unix(0, 1) // refused as too old
		default:
			items[i].Time = time.UnixMilli(int64(*ts * 1000)).UTC()
		}
	}
	res, err := s.svc.IngestEvents(r.Context(), a, orgID, items)
	if err != nil {
		return err
	}
	results := make([]map[string]any, len(res))
	accepted := 0
	for i, x := range res {
		if x.ID != "" {
			accepted++
			results[i] = map[string]any{"id": x.ID}
		} else {
			results[i] = map[string]any{"error": x.Error}
		}
	}
	return ok(w, map[string]any{"accepted": accepted, "refused": len(res) - accepted, "results": results})
}

func (s *server) apiListEvents(w http.ResponseWriter, r *http.Request, a *app.Actor) error {
	orgID, err := pathID(r, "org_id", "organization")
	if err != nil {
		return err
	}
	p, err := queryPage(r)
	if err != nil {
		return err
	}
	deviceID := ""
	if v := r.URL.Query().Get("device_id"); v != "" {
		if deviceID, err = parseID(v, "device"); err != nil {
			return err
		}
	}
	events, total, err := s.svc.ListEvents(r.Context(), a, orgID, deviceID, p)
	if err != nil {
		return err
	}
	out := []eventJSON{}
	for _, e := range events {
		out = append(out, toEventJSON(e))
	}
	setPageHeaders(w, p, total)
	return ok(w, out)
}
