package app

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"portal"
	"portal/internal/format"
	"portal/internal/store"
)

// The inventory: an organization's devices. Who may do what is authz.go's
// ActViewInventory and ActManageInventory: a device not assigned to a site
// needs them for the whole organization, an assigned one on its site (so
// an Installer sees and changes the devices of their sites). Adding many
// devices at once keeps the good ones and says of each bad one why.

const (
	// MaxDevicesAtOnce is how many devices one request (or CSV file) adds.
	MaxDevicesAtOnce = 10000
	maxDeviceField   = 64
	// addChunk is how many devices one write transaction adds.
	addChunk = 500
)

// DeviceInput is one device to add. Site is a site of the organization,
// by id or by name (any case); "" leaves the device unassigned.
type DeviceInput struct {
	Name, Model, Serial, MAC, Site string
	// Where names the input in messages about another one ("line 7");
	// "" means "item <n> of this list".
	Where string
}

// DeviceResult is what became of one DeviceInput: the device added, or
// the reason it was refused.
type DeviceResult struct {
	Device *store.Device
	Error  string
}

// DeviceFilter selects devices for ListDevices.
type DeviceFilter struct {
	SiteID string
	Status string // store.DeviceConnected, store.DeviceDisconnected or ""
	// Search: part of the name or serial (any case), or of the MAC address
	// in any of its formats.
	Search string
	Page   portal.Page
}

// viewSites is the sites whose devices acc may see with act: nil for all
// of the organization's (unassigned devices too).
func (a access) inventorySites(act Action) []string {
	if a.orgRole != "" && RoleGrants(a.orgRole, portal.ScopeOrg, act) {
		return nil
	}
	out := []string{}
	for site, role := range a.siteRoles {
		if RoleGrants(role, portal.ScopeSite, act) {
			out = append(out, site)
		}
	}
	return out
}

// canAnywhere reports whether act is granted on the organization or on
// any of its sites.
func (a access) canAnywhere(act Action) bool {
	return a.inventorySites(act) == nil || len(a.inventorySites(act)) > 0
}

// ListDevices returns one page of the devices the actor may see
// (ActViewInventory), by name, and the total.
func (s *Service) ListDevices(ctx context.Context, a *Actor, orgID string, f DeviceFilter) (_ []*store.Device, _ int, err error) {
	defer wrap(&err, "ListDevices(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, 0, err
	}
	if f.Page, err = CheckPage(f.Page); err != nil {
		return nil, 0, err
	}
	switch f.Status {
	case "", store.DeviceConnected, store.DeviceDisconnected:
	default:
		return nil, 0, portal.Errorf(portal.EINVALID, "status must be connected or disconnected")
	}
	q := store.DeviceQuery{OrgID: orgID, Sites: acc.inventorySites(ActViewInventory), SiteID: f.SiteID, Status: f.Status, Page: f.Page}
	if search := strings.TrimSpace(f.Search); search != "" {
		if utf8.RuneCountInString(search) > 100 {
			return nil, 0, portal.Errorf(portal.EINVALID, "the search is too long: at most 100 characters")
		}
		q.Search = search
		digits := strings.Map(func(r rune) rune {
			if r == ':' || r == '-' || r == '.' {
				return -1
			}
			return unicode.ToLower(r)
		}, search)
		if digits != "" && strings.Trim(digits, "0123456789abcdef") == "" {
			q.MACDigits = digits
		}
	}
	return s.db.ListDevices(ctx, q)
}

// orgSites returns the sites of an organization by id.
func (s *Service) orgSites(ctx context.Context, orgID string) (map[string]*portal.Site, error) {
	all, _, err := s.db.ListSites(ctx, orgID, portal.Page{Limit: 1 << 30, Page: 1})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*portal.Site, len(all))
	for _, site := range all {
		out[site.ID] = site
	}
	return out, nil
}

func checkDeviceText(what, v string, required bool) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && required:
		return "", fmt.Errorf("%s is required", what)
	case utf8.RuneCountInString(v) > maxDeviceField:
		return "", fmt.Errorf("%s is longer than %d characters", what, maxDeviceField)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%s contains control characters", what)
	}
	return v, nil
}

// AddDevices adds devices to an organization's inventory (ActManageInventory
// on each device's site, or on the organization for unassigned ones; a
// request naming a site the actor cannot change is refused whole). Each
// result says what became of the input at the same index: the good ones
// are added even when others are refused. One audit entry per write
// transaction of at most addChunk devices.
func (s *Service) AddDevices(ctx context.Context, a *Actor, orgID string, in []DeviceInput) (_ []DeviceResult, err error) {
	defer wrap(&err, "AddDevices(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if !acc.canAnywhere(ActManageInventory) {
		return nil, acc.require(ActManageInventory, "")
	}
	if len(in) == 0 {
		return nil, portal.Errorf(portal.EINVALID, "no devices to add")
	}
	if len(in) > MaxDevicesAtOnce {
		return nil, portal.Errorf(portal.EINVALID, "%d devices are more than the %d that can be added at once: split the list", len(in), MaxDevicesAtOnce)
	}
	sites, err := s.orgSites(ctx, orgID)
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, site := range sites {
		byName[strings.ToLower(site.Name)] = site.ID
	}
	now := s.clock()
	out := make([]DeviceResult, len(in))
	seenSerial, seenMAC := map[string]int{}, map[string]int{}
	var good []int
	for i, d := range in {
		dev, why := func() (*store.Device, error) {
			serial, err := checkDeviceText("serial", d.Serial, true)
			if err != nil {
				return nil, err
			}
			serial = strings.ToUpper(serial)
			if strings.TrimSpace(d.MAC) == "" {
				return nil, errors.New("MAC address is required")
			}
			mac, err := format.ParseMAC(d.MAC)
			if err != nil {
				return nil, err
			}
			name, err := checkDeviceText("name", d.Name, false)
			if err != nil {
				return nil, err
			}
			model, err := checkDeviceText("model", d.Model, false)
			if err != nil {
				return nil, err
			}
			siteID := ""
			if site := strings.TrimSpace(d.Site); site != "" {
				if _, ok := sites[site]; ok {
					siteID = site
				} else if id, ok := byName[strings.ToLower(site)]; ok {
					siteID = id
				} else {
					return nil, fmt.Errorf("unknown site %q: no site of this organization has that name or id", site)
				}
			}
			where := func(j int) string {
				if in[j].Where != "" {
					return in[j].Where
				}
				return fmt.Sprintf("item %d of this list", j+1)
			}
			if j, dup := seenSerial[serial]; dup {
				return nil, fmt.Errorf("serial %s is also in %s", serial, where(j))
			}
			if j, dup := seenMAC[mac]; dup {
				return nil, fmt.Errorf("MAC address %s is also in %s", format.MAC(mac, format.MACColon), where(j))
			}
			seenSerial[serial], seenMAC[mac] = i, i
			return &store.Device{ID: newID(), OrgID: orgID, SiteID: siteID, Name: name, Model: model, Serial: serial, MAC: mac,
				Status: store.DeviceDisconnected, Created: now, Modified: now}, nil
		}()
		if why != nil {
			out[i].Error = why.Error()
			continue
		}
		if !acc.can(ActManageInventory, dev.SiteID) {
			if dev.SiteID == "" {
				return nil, acc.forbidden(ActManageInventory, "", "you cannot add devices without a site to this organization's inventory (name one of your sites)", true)
			}
			return nil, acc.forbidden(ActManageInventory, dev.SiteID, "you cannot add devices to the site "+sites[dev.SiteID].Name, true)
		}
		out[i].Device = dev
		good = append(good, i)
	}
	for from := 0; from < len(good); from += addChunk {
		chunk := good[from:min(len(good), from+addChunk)]
		err := s.write(ctx, func(tx *store.Tx, w *writer) error {
			var serials []string
			for _, i := range chunk {
				out[i].Error = ""
				if err := tx.CreateDevice(ctx, out[i].Device); err != nil {
					if !errors.Is(err, store.ErrDuplicate) {
						return err
					}
					if strings.Contains(err.Error(), "serial") {
						out[i].Error = "serial " + out[i].Device.Serial + " is already in the inventory"
					} else {
						out[i].Error = "MAC address " + format.MAC(out[i].Device.MAC, format.MACColon) + " is already in the inventory"
					}
					continue
				}
				serials = append(serials, out[i].Device.Serial)
			}
			if len(serials) == 0 {
				return nil
			}
			msg := "Added device " + serials[0]
			if len(serials) > 1 {
				msg = fmt.Sprintf("Added %d devices", len(serials))
			}
			return w.audit(ctx, a.User, a.IP, orgID, "", msg, nil, map[string]any{"serials": serials})
		})
		if err != nil {
			return nil, err
		}
	}
	for i := range out {
		if out[i].Error != "" {
			out[i].Device = nil
		}
	}
	return out, nil
}

// device loads a device of the organization and requires act on its site.
func (s *Service) device(ctx context.Context, a *Actor, orgID, deviceID string, act Action) (*store.Device, access, error) {
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, acc, err
	}
	d, err := s.db.GetDevice(ctx, orgID, deviceID)
	if err != nil {
		return nil, acc, err
	}
	// A member of the organization who cannot see the device's site is
	// refused as one without the right (403), as on the organization's
	// other routes; non-members got not-found above.
	return d, acc, acc.require(act, d.SiteID)
}

func deviceFields(d *store.Device) map[string]any {
	return map[string]any{"name": d.Name, "serial": d.Serial, "mac": d.MAC, "site_id": d.SiteID}
}

// RenameDevice changes a device's name (ActManageInventory on its site).
func (s *Service) RenameDevice(ctx context.Context, a *Actor, orgID, deviceID, name string) (_ *store.Device, err error) {
	defer wrap(&err, "RenameDevice(%s)", deviceID)
	d, _, err := s.device(ctx, a, orgID, deviceID, ActManageInventory)
	if err != nil {
		return nil, err
	}
	name, err = checkDeviceText("name", name, false)
	if err != nil {
		return nil, &portal.Error{Code: portal.EINVALID, Message: err.Error(), Fields: map[string]any{"field": "name"}}
	}
	before := deviceFields(d)
	d.Name, d.Modified = name, s.clock()
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.UpdateDevice(ctx, d); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, orgID, d.SiteID, "Renamed device "+d.Serial, before, deviceFields(d))
	})
	return d, err
}

// RemoveDevice removes a device and its events (ActManageInventory on its site).
func (s *Service) RemoveDevice(ctx context.Context, a *Actor, orgID, deviceID string) (err error) {
	defer wrap(&err, "RemoveDevice(%s)", deviceID)
	d, _, err := s.device(ctx, a, orgID, deviceID, ActManageInventory)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, w *writer) error {
		if err := tx.DeleteDevice(ctx, orgID, d.ID); err != nil {
			return err
		}
		return w.audit(ctx, a.User, a.IP, orgID, d.SiteID, "Removed device "+d.Serial, deviceFields(d), nil)
	})
}

// AssignResult is the answer to AssignDevices, in Mist's shape: the MACs
// done, and the MACs refused with a reason each.
type AssignResult struct {
	Op      string
	Success []string
	Error   []string
	Reason  []string
}

// AssignDevices assigns devices, named by MAC address, to a site (op
// "assign", ActManageInventory on the site and on each device's current
// one) or takes them off their site (op "unassign"). A MAC that is not in
// the inventory or whose device the actor cannot change is refused with
// its reason; the others are done.
func (s *Service) AssignDevices(ctx context.Context, a *Actor, orgID, op, siteID string, macs []string) (_ *AssignResult, err error) {
	defer wrap(&err, "AssignDevices(%s)", orgID)
	acc, err := s.accessTo(ctx, a, orgID)
	if err != nil {
		return nil, err
	}
	if !acc.canAnywhere(ActManageInventory) {
		return nil, acc.require(ActManageInventory, "")
	}
	var site *portal.Site
	switch op {
	case "assign":
		if siteID == "" {
			return nil, portal.Errorf(portal.EINVALID, "site_id is required to assign devices")
		}
		sites, err := s.orgSites(ctx, orgID)
		if err != nil {
			return nil, err
		}
		if site = sites[siteID]; site == nil {
			return nil, notFound("site")
		}
		if err := acc.require(ActManageInventory, siteID); err != nil {
			return nil, err
		}
	case "unassign":
		// An unassigned device belongs to the whole organization.
		siteID = ""
		if err := acc.require(ActManageInventory, ""); err != nil {
			return nil, err
		}
	default:
		return nil, portal.Errorf(portal.EINVALID, "op must be assign or unassign")
	}
	if len(macs) == 0 {
		return nil, portal.Errorf(portal.EINVALID, "macs is required: the MAC addresses of the devices")
	}
	if len(macs) > MaxDevicesAtOnce {
		return nil, portal.Errorf(portal.EINVALID, "at most %d devices at once", MaxDevicesAtOnce)
	}
	res := &AssignResult{Op: op, Success: []string{}, Error: []string{}, Reason: []string{}}
	refuse := func(mac, why string) { res.Error = append(res.Error, mac); res.Reason = append(res.Reason, why) }
	var todo []*store.Device
	for _, m := range macs {
		mac, err := format.ParseMAC(m)
		if err != nil {
			refuse(m, err.Error())
			continue
		}
		d, err := s.db.FindDevice(ctx, orgID, mac, "")
		if err == nil && !acc.can(ActViewInventory, d.SiteID) {
			err = notFound("device")
		}
		var pe *portal.Error
		switch {
		case errors.As(err, &pe) && pe.Code == portal.ENOTFOUND:
			refuse(mac, "no device with this MAC address in the inventory")
			continue
		case err != nil:
			return nil, err
		case !acc.can(ActManageInventory, d.SiteID):
			refuse(mac, "you cannot change this device's site")
			continue
		}
		todo = append(todo, d)
	}
	if len(todo) == 0 {
		return res, nil
	}
	now := s.clock()
	err = s.write(ctx, func(tx *store.Tx, w *writer) error {
		for _, d := range todo {
			d.SiteID, d.Modified = siteID, now
			if err := tx.UpdateDevice(ctx, d); err != nil {
				return err
			}
			res.Success = append(res.Success, d.MAC)
		}
		msg := fmt.Sprintf("Took %d devices off their site", len(todo))
		if site != nil {
			msg = fmt.Sprintf("Assigned %d devices to site %s", len(todo), site.Name)
		}
		return w.audit(ctx, a.User, a.IP, orgID, siteID, msg, nil, map[string]any{"macs": res.Success, "site_id": siteID})
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// CSVRowError is a row of an uploaded CSV file that was not added: its
// line number in the file, its serial (as written) and why.
type CSVRowError struct {
	Line   int
	Serial string
	Error  string
}

// CSVReport is what became of an uploaded CSV file.
type CSVReport struct {
	Rows  int // data rows read
	Added int
	Bad   []CSVRowError
}

// csvColumns are the columns a CSV file of devices may have (its first
// line names them, in any order and case).
var csvColumns = map[string]string{"serial": "serial", "mac": "mac", "mac address": "mac", "name": "name", "model": "model", "site": "site"}

// AddDevicesCSV adds the devices of a CSV file (AddDevices): a first line
// naming the columns (serial and mac, optionally name, model and site),
// then at most MaxDevicesAtOnce rows. Good rows are added; the report
// lists each bad one with its line and reason.
func (s *Service) AddDevicesCSV(ctx context.Context, a *Actor, orgID string, r io.Reader) (_ *CSVReport, err error) {
	defer wrap(&err, "AddDevicesCSV(%s)", orgID)
	if _, err := s.accessTo(ctx, a, orgID); err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord, cr.LazyQuotes, cr.TrimLeadingSpace = -1, true, true
	header, err := cr.Read()
	if err != nil {
		return nil, portal.Errorf(portal.EINVALID, "the file is empty or not CSV: its first line must name the columns serial and mac (optionally name, model, site)")
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if c, ok := csvColumns[h]; ok {
			col[c] = i
		}
	}
	if _, ok := col["serial"]; !ok {
		return nil, portal.Errorf(portal.EINVALID, "the first line of the file must name the columns: serial and mac, optionally name, model and site")
	}
	if _, ok := col["mac"]; !ok {
		return nil, portal.Errorf(portal.EINVALID, "the first line of the file must name the columns: serial and mac, optionally name, model and site")
	}
	rep := &CSVReport{}
	var in []DeviceInput
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, portal.Errorf(portal.EINVALID, "the file could not be read")
			}
			rep.Rows++
			rep.Bad = append(rep.Bad, CSVRowError{Line: pe.StartLine, Error: "not a CSV row: " + pe.Err.Error()})
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		rep.Rows++
		if rep.Rows > MaxDevicesAtOnce {
			continue // counted for the message below
		}
		line, _ := cr.FieldPos(0)
		field := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		in = append(in, DeviceInput{Serial: field("serial"), MAC: field("mac"), Name: field("name"), Model: field("model"), Site: field("site"),
			Where: fmt.Sprintf("line %d", line)})
		lines = append(lines, line)
	}
	if rep.Rows > MaxDevicesAtOnce {
		return nil, portal.Errorf(portal.EINVALID, "the file has %d rows: at most %d can be added at once, so nothing was added; split it", rep.Rows, MaxDevicesAtOnce)
	}
	if len(in) == 0 {
		if len(rep.Bad) > 0 {
			return rep, nil
		}
		return nil, portal.Errorf(portal.EINVALID, "the file has no devices: only its first line")
	}
	res, err := s.AddDevices(ctx, a, orgID, in)
	if err != nil {
		return nil, err
	}
	for i, x := range res {
		if x.Device != nil {
			rep.Added++
			continue
		}
		rep.Bad = append(rep.Bad, CSVRowError{Line: lines[i], Serial: in[i].Serial, Error: x.Error})
	}
	slices.SortFunc(rep.Bad, func(a, b CSVRowError) int { return a.Line - b.Line })
	return rep, nil
}
