package app

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"portal"
	"portal/internal/format"
	"portal/internal/store"
)

// Device events: what devices (or a collector in front of them) report
// with an API token or a session of a member who may change the device's
// site (ActManageInventory there), and what Portal raises itself: a
// device silent for the device timeout is marked disconnected with a
// device_down event (DetectSilentDevices, run by RunCleanup); its next
// event marks it connected again with a device_up event.

const (
	// MaxEventsAtOnce is how many events one request reports.
	MaxEventsAtOnce = 1000
	// MaxEventText is the longest text of an event, in characters.
	MaxEventText = 1000
	// EventClockSkew is how far ahead of Portal's clock an event's time
	// may be.
	EventClockSkew = 2 * time.Minute
	// DefaultDeviceTimeout is how long a device may be silent before it is
	// marked disconnected (PORTAL_DEVICE_TIMEOUT).
	DefaultDeviceTimeout = 10 * time.Minute
	// silentBatch is how many devices one transaction marks disconnected.
	silentBatch = 500
)

// oldestEvent is the earliest time an event may carry.
var oldestEvent = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Event types Portal itself raises.
const (
	EventDeviceDown = "device_down"
	EventDeviceUp   = "device_up"
)

// EventSeverities are the severities an event may have.
var EventSeverities = []string{"info", "warning", "major", "critical"}

var eventType = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// EventInput is one reported event: the device by MAC address (any
// format) or serial, optionally the site it reports from, and Time ("":
// when received).
type EventInput struct {
	MAC, Serial, SiteID string
	Type, Severity      string
	Text                string
	Time                time.Time
}

// EventResult is what became of one EventInput: its id, or the reason it
// was refused.
type EventResult struct {
	ID    string
	Error string
}

// IngestEvents stores a batch of events of an organization's devices. The
// caller must be allowed to change some inventory of the organization
// (else the whole request is refused); each event is then accepted or
// refused with its reason, and the accepted ones are stored together. An
// event marks its device seen (connected, last seen at the event's time);
// a device marked disconnected before gets a device_up event first.
func (s *Service) IngestEvents(ctx context.Context, a *Actor, orgID string, in []EventInput) (_ []EventResult, err error) {
	defer wrap(&err, "IngestEvents(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if !acc.canAnywhere(ActManageInventory) {
		return nil, acc.require(ActManageInventory, "")
	}
	if len(in) == 0 {
		return nil, portal.Errorf(portal.EINVALID, "no events to store")
	}
	if len(in) > MaxEventsAtOnce {
		return nil, portal.Errorf(portal.EINVALID, "%d events are more than the %d one request may report: split the batch", len(in), MaxEventsAtOnce)
	}
	now := s.clock()
	out := make([]EventResult, len(in))
	events := make([]*store.DeviceEvent, len(in))
	for i, e := range in {
		ev, why := s.checkEvent(ctx, acc, orgID, e, now)
		if why != nil {
			var pe *portal.Error
			if !errors.As(why, &pe) {
				return nil, why // the database's, not the event's
			}
			out[i].Error = pe.Message
			continue
		}
		ev.ReportedBy = a.User.ID
		events[i] = ev
		out[i].ID = ev.ID
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		for _, ev := range events {
			if ev == nil {
				continue
			}
			if err := s.storeEvent(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// storeEvent inserts ev and updates its device's status.
func (s *Service) storeEvent(ctx context.Context, tx *store.Tx, ev *store.DeviceEvent) error {
	if ev.Type == EventDeviceDown {
		if _, err := tx.MarkDeviceDown(ctx, ev.DeviceID); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, ev)
	}
	wasDown, err := tx.DeviceSeen(ctx, ev.DeviceID, ev.Time)
	if err != nil {
		return err
	}
	if wasDown && ev.Type != EventDeviceUp {
		up := *ev
		up.ID, up.Type, up.Severity, up.Text, up.ReportedBy = newID(), EventDeviceUp, "info", "reporting again", ""
		up.Time = ev.Time.Add(-time.Millisecond) // just before the event that shows it
		if err := s.insertEvent(ctx, tx, &up); err != nil {
			return err
		}
	}
	return s.insertEvent(ctx, tx, ev)
}

// checkEvent validates one event; a *portal.Error is the event's refusal.
func (s *Service) checkEvent(ctx context.Context, acc access, orgID string, e EventInput, now time.Time) (*store.DeviceEvent, error) {
	refuse := func(f string, args ...any) error { return portal.Errorf(portal.EINVALID, f, args...) }
	if !eventType.MatchString(e.Type) {
		return nil, refuse("type %q is not an event type: lower-case letters, digits and _, such as device_down, device_up or config_changed", e.Type)
	}
	sev := e.Severity
	if sev == "" {
		sev = "info"
	}
	known := false
	for _, v := range EventSeverities {
		known = known || v == sev
	}
	if !known {
		return nil, refuse("severity %q must be info, warning, major or critical", e.Severity)
	}
	if n := utf8.RuneCountInString(e.Text); n > MaxEventText {
		return nil, refuse("text is %d characters long; at most %d", n, MaxEventText)
	}
	at := e.Time
	if at.IsZero() {
		at = now
	}
	if at.After(now.Add(EventClockSkew)) {
		return nil, refuse("time %s is in the future (more than %s ahead of Portal's clock)", at.UTC().Format(time.RFC3339), EventClockSkew)
	}
	if at.Before(oldestEvent) {
		return nil, refuse("time %s is not a time an event can have: give epoch seconds after 2000", at.UTC().Format(time.RFC3339))
	}
	if at.After(now) {
		at = now
	}
	var d *store.Device
	var err error
	switch {
	case e.MAC != "":
		mac, perr := format.ParseMAC(e.MAC)
		if perr != nil {
			return nil, refuse("%s", perr.Error())
		}
		d, err = s.db.FindDevice(ctx, orgID, mac, "")
	case e.Serial != "":
		d, err = s.db.FindDevice(ctx, orgID, "", normSerial(e.Serial))
	default:
		return nil, refuse("the device is missing: give its mac or serial")
	}
	var pe *portal.Error
	if errors.As(err, &pe) && pe.Code == portal.ENOTFOUND {
		return nil, refuse("unknown device: no device with this %s in the organization's inventory", map[bool]string{true: "MAC address", false: "serial"}[e.MAC != ""])
	}
	if err != nil {
		return nil, err
	}
	if e.SiteID != "" && e.SiteID != d.SiteID {
		site, err := s.db.GetSite(ctx, e.SiteID)
		switch {
		case errors.As(err, &pe) && pe.Code == portal.ENOTFOUND:
			return nil, refuse("unknown site %s", e.SiteID)
		case err != nil:
			return nil, err
		case site.OrgID != orgID:
			return nil, refuse("site %s belongs to another organization", e.SiteID)
		}
		return nil, refuse("the device is not assigned to site %s", e.SiteID)
	}
	// A member may learn that a device of their organization exists, as a
	// collector reporting for the wrong site needs to.
	if !acc.can(ActManageInventory, d.SiteID) {
		if d.SiteID == "" {
			return nil, refuse("no write access: the device has no site, and only a member who may change the whole organization's inventory may report its events")
		}
		return nil, refuse("no write access to the device's site: your role may not change its inventory")
	}
	return &store.DeviceEvent{ID: newID(), OrgID: orgID, SiteID: d.SiteID, DeviceID: d.ID, Type: e.Type, Severity: sev,
		Text: e.Text, Time: at, Received: now}, nil
}

func normSerial(s string) string {
	v, _ := checkDeviceText("serial", s, false)
	return strings.ToUpper(v)
}

// ListEvents returns one page of the events of the devices the actor may
// see (ActViewInventory), newest first; deviceID narrows it to one device.
func (s *Service) ListEvents(ctx context.Context, a *Actor, orgID, deviceID string, p portal.Page) (_ []*store.DeviceEvent, _ int, err error) {
	defer wrap(&err, "ListEvents(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, 0, err
	}
	if p, err = CheckPage(p); err != nil {
		return nil, 0, err
	}
	return s.db.ListDeviceEvents(ctx, store.EventQuery{OrgID: orgID, Sites: acc.inventorySites(ActViewInventory), DeviceID: deviceID, Page: p})
}

// DetectSilentDevices marks disconnected every connected device that has
// reported nothing for the device timeout, each with a device_down event,
// and returns how many. Several instances may run it at once: each device
// is marked by one of them.
func (s *Service) DetectSilentDevices(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "DetectSilentDevices")
	now := s.clock()
	cutoff := now.Add(-s.deviceTimeout)
	total := 0
	for {
		var n int
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			ds, err := tx.MarkSilentDevices(ctx, cutoff, silentBatch)
			if err != nil {
				return err
			}
			n = len(ds)
			for _, d := range ds {
				if err := s.insertEvent(ctx, tx, &store.DeviceEvent{ID: newID(), OrgID: d.OrgID, SiteID: d.SiteID, DeviceID: d.ID,
					Type: EventDeviceDown, Severity: "warning", Time: now, Received: now,
					Text: fmt.Sprintf("no report since %s", d.LastSeen.UTC().Format(time.RFC3339))}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < silentBatch || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
