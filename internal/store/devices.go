package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"portal"
)

// Device is one device of an organization's inventory.
type Device struct {
	ID       string
	OrgID    string
	SiteID   string // "" while not assigned to a site
	Name     string
	Model    string
	Serial   string // upper-case
	MAC      string // 12 lower-case hex digits
	Status   string // DeviceConnected or DeviceDisconnected
	LastSeen time.Time
	Created  time.Time
	Modified time.Time
}

// Device statuses.
const (
	DeviceConnected    = "connected"
	DeviceDisconnected = "disconnected"
)

// DeviceEvent is one event a device reported (or Portal raised for it).
type DeviceEvent struct {
	ID         string
	OrgID      string
	SiteID     string
	DeviceID   string
	Type       string
	Severity   string
	Text       string
	Time       time.Time
	Received   time.Time
	ReportedBy string // user id; "" for Portal itself
	// Filled by ListDeviceEvents from the device.
	DeviceName, DeviceMAC, DeviceSerial string
}

const deviceCols = `id, org_id, site_id, name, model, serial, mac, status, last_seen_at, created_at, modified_at`

func scanDevice(row interface{ Scan(...any) error }) (*Device, error) {
	var d Device
	var site sql.NullString
	var seen, created, modified int64
	if err := row.Scan(&d.ID, &d.OrgID, &site, &d.Name, &d.Model, &d.Serial, &d.MAC, &d.Status, &seen, &created, &modified); err != nil {
		return nil, err
	}
	d.SiteID = site.String
	d.LastSeen, d.Created, d.Modified = fromMS(seen), fromMS(created), fromMS(modified)
	return &d, nil
}

// CreateDevice adds a device; ErrDuplicate when its serial or MAC is
// already in the organization. A refusal leaves the transaction usable.
func (tx *Tx) CreateDevice(ctx context.Context, d *Device) (err error) {
	defer wrap(&err, "CreateDevice")
	return tx.savepoint(ctx, func() error {
		_, err := tx.exec(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			d.ID, d.OrgID, nullable(d.SiteID), d.Name, d.Model, d.Serial, d.MAC, d.Status, ms(d.LastSeen), ms(d.Created), ms(d.Modified))
		return err
	})
}

// GetDevice returns a device of an organization.
func (c conn) GetDevice(ctx context.Context, orgID, id string) (_ *Device, err error) {
	defer wrap(&err, "GetDevice(%s)", id)
	d, err := scanDevice(c.queryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE org_id = ? AND id = ?`, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("device")
	}
	return d, err
}

// FindDevice returns the device of an organization with this MAC (12 hex
// digits) or, when mac is "", this serial.
func (c conn) FindDevice(ctx context.Context, orgID, mac, serial string) (_ *Device, err error) {
	defer wrap(&err, "FindDevice(%s)", orgID)
	q, arg := `SELECT `+deviceCols+` FROM devices WHERE org_id = ? AND mac = ?`, mac
	if mac == "" {
		q, arg = `SELECT `+deviceCols+` FROM devices WHERE org_id = ? AND serial = ?`, serial
	}
	d, err := scanDevice(c.queryRow(ctx, q, orgID, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("device")
	}
	return d, err
}

// DeviceQuery selects devices of an organization.
type DeviceQuery struct {
	OrgID string
	// Sites: only devices of these sites (nil: every device, unassigned
	// ones included; empty but not nil: none).
	Sites  []string
	SiteID string // only this site ("" any)
	Status string // only this status ("" any)
	// Search: name or serial containing it (any case), or a MAC containing
	// MACDigits (hex digits, lower-case) when set.
	Search    string
	MACDigits string
	Page      portal.Page
}

func (q DeviceQuery) where() (string, []any) {
	conds := []string{"org_id = ?"}
	args := []any{q.OrgID}
	if q.Sites != nil {
		if len(q.Sites) == 0 {
			conds = append(conds, "1 = 0")
		} else {
			conds = append(conds, "site_id IN (?"+strings.Repeat(",?", len(q.Sites)-1)+")")
			for _, s := range q.Sites {
				args = append(args, s)
			}
		}
	}
	if q.SiteID != "" {
		conds = append(conds, "site_id = ?")
		args = append(args, q.SiteID)
	}
	if q.Status != "" {
		conds = append(conds, "status = ?")
		args = append(args, q.Status)
	}
	if q.Search != "" {
		like := "%" + likeEscape(strings.ToLower(q.Search)) + "%"
		c := `(LOWER(name) LIKE ? ESCAPE '\' OR LOWER(serial) LIKE ? ESCAPE '\'`
		args = append(args, like, like)
		if q.MACDigits != "" {
			c += ` OR mac LIKE ?`
			args = append(args, "%"+q.MACDigits+"%")
		}
		conds = append(conds, c+")")
	}
	return strings.Join(conds, " AND "), args
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListDevices returns one page of the devices q selects, by name, and the total.
func (c conn) ListDevices(ctx context.Context, q DeviceQuery) (_ []*Device, _ int, err error) {
	defer wrap(&err, "ListDevices(%s)", q.OrgID)
	where, args := q.where()
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM devices WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.query(ctx, `SELECT `+deviceCols+` FROM devices WHERE `+where+` ORDER BY name, serial, id LIMIT ? OFFSET ?`,
		append(args, q.Page.Limit, (q.Page.Page-1)*q.Page.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// UpdateDevice saves a device's name and site.
func (tx *Tx) UpdateDevice(ctx context.Context, d *Device) (err error) {
	defer wrap(&err, "UpdateDevice(%s)", d.ID)
	return tx.execOne(ctx, notFound("device"), `UPDATE devices SET name = ?, site_id = ?, modified_at = ? WHERE id = ? AND org_id = ?`,
		d.Name, nullable(d.SiteID), ms(d.Modified), d.ID, d.OrgID)
}

// DeleteDevice removes a device and its events.
func (tx *Tx) DeleteDevice(ctx context.Context, orgID, id string) (err error) {
	defer wrap(&err, "DeleteDevice(%s)", id)
	return tx.execOne(ctx, notFound("device"), `DELETE FROM devices WHERE id = ? AND org_id = ?`, id, orgID)
}

// DeviceSeen records that a device reported at seen: last_seen moves
// forward only, and the device is connected. It reports whether the
// device was disconnected before.
func (tx *Tx) DeviceSeen(ctx context.Context, id string, seen time.Time) (wasDown bool, err error) {
	defer wrap(&err, "DeviceSeen(%s)", id)
	n, err := tx.affected(ctx, `UPDATE devices SET status = 'connected' WHERE id = ? AND status = 'disconnected'`, id)
	if err != nil {
		return false, err
	}
	wasDown = n == 1
	_, err = tx.exec(ctx, `UPDATE devices SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?`, ms(seen), id, ms(seen))
	return wasDown, err
}

// MarkSilentDevices marks disconnected at most limit connected devices
// last seen before cutoff and returns them. Each is returned by exactly
// one caller of several running at once (a conditional update).
func (tx *Tx) MarkSilentDevices(ctx context.Context, cutoff time.Time, limit int) (_ []*Device, err error) {
	defer wrap(&err, "MarkSilentDevices")
	rows, err := tx.query(ctx, `SELECT `+deviceCols+` FROM devices WHERE status = 'connected' AND last_seen_at < ? ORDER BY last_seen_at LIMIT ?`, ms(cutoff), limit)
	if err != nil {
		return nil, err
	}
	var cands []*Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []*Device
	for _, d := range cands {
		n, err := tx.affected(ctx, `UPDATE devices SET status = 'disconnected' WHERE id = ? AND status = 'connected' AND last_seen_at < ?`, d.ID, ms(cutoff))
		if err != nil {
			return nil, err
		}
		if n == 1 {
			d.Status = DeviceDisconnected
			out = append(out, d)
		}
	}
	return out, nil
}

// InsertDeviceEvent stores an event.
func (tx *Tx) InsertDeviceEvent(ctx context.Context, e *DeviceEvent) (err error) {
	defer wrap(&err, "InsertDeviceEvent")
	_, err = tx.exec(ctx, `INSERT INTO device_events (id, org_id, site_id, device_id, type, severity, text, event_at, received_at, reported_by) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		e.ID, e.OrgID, nullable(e.SiteID), e.DeviceID, e.Type, e.Severity, e.Text, ms(e.Time), ms(e.Received), e.ReportedBy)
	return err
}

// EventQuery selects events of an organization.
type EventQuery struct {
	OrgID    string
	Sites    []string // as DeviceQuery.Sites
	DeviceID string   // only this device ("" any)
	Page     portal.Page
}

// ListDeviceEvents returns one page of events, newest first, and the total.
func (c conn) ListDeviceEvents(ctx context.Context, q EventQuery) (_ []*DeviceEvent, _ int, err error) {
	defer wrap(&err, "ListDeviceEvents(%s)", q.OrgID)
	conds := []string{"e.org_id = ?"}
	args := []any{q.OrgID}
	if q.Sites != nil {
		if len(q.Sites) == 0 {
			conds = append(conds, "1 = 0")
		} else {
			conds = append(conds, "e.site_id IN (?"+strings.Repeat(",?", len(q.Sites)-1)+")")
			for _, s := range q.Sites {
				args = append(args, s)
			}
		}
	}
	if q.DeviceID != "" {
		conds = append(conds, "e.device_id = ?")
		args = append(args, q.DeviceID)
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := c.queryRow(ctx, `SELECT COUNT(*) FROM device_events e WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := c.query(ctx, `SELECT e.id, e.org_id, e.site_id, e.device_id, e.type, e.severity, e.text, e.event_at, e.received_at, e.reported_by, d.name, d.mac, d.serial
		FROM device_events e JOIN devices d ON d.id = e.device_id WHERE `+where+` ORDER BY e.event_at DESC, e.id LIMIT ? OFFSET ?`,
		append(args, q.Page.Limit, (q.Page.Page-1)*q.Page.Limit)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*DeviceEvent
	for rows.Next() {
		var e DeviceEvent
		var site sql.NullString
		var at, rec int64
		if err := rows.Scan(&e.ID, &e.OrgID, &site, &e.DeviceID, &e.Type, &e.Severity, &e.Text, &at, &rec, &e.ReportedBy, &e.DeviceName, &e.DeviceMAC, &e.DeviceSerial); err != nil {
			return nil, 0, err
		}
		e.SiteID, e.Time, e.Received = site.String, fromMS(at), fromMS(rec)
		out = append(out, &e)
	}
	return out, total, rows.Err()
}

// MarkDeviceDown marks a device disconnected; it reports whether it was
// connected.
func (tx *Tx) MarkDeviceDown(ctx context.Context, id string) (_ bool, err error) {
	defer wrap(&err, "MarkDeviceDown(%s)", id)
	n, err := tx.affected(ctx, `UPDATE devices SET status = 'disconnected' WHERE id = ? AND status = 'connected'`, id)
	return n == 1, err
}
