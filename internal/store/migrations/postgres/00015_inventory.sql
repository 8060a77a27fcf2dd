-- +goose Up
-- devices: an organization's inventory. serial (upper-case) and mac (12
-- lower-case hex digits) are unique per organization; site_id is NULL
-- while the device is not assigned to a site. status is 'connected' or
-- 'disconnected'; last_seen_at is the time of its last event (0: never).
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    site_id TEXT REFERENCES sites(id) ON DELETE SET NULL,
    name TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL,
    mac TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'disconnected',
    last_seen_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX devices_org_serial ON devices(org_id, serial);
CREATE UNIQUE INDEX devices_org_mac ON devices(org_id, mac);
CREATE INDEX devices_site ON devices(site_id);
CREATE INDEX devices_status_seen ON devices(status, last_seen_at);

-- device_events: what devices (or Portal, for device_down after silence)
-- reported. site_id is the device's site when the event was stored.
CREATE TABLE device_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    site_id TEXT,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    event_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    reported_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX device_events_org_time ON device_events(org_id, event_at);
CREATE INDEX device_events_device ON device_events(device_id);

-- +goose Down
DROP TABLE device_events;
DROP TABLE devices;
