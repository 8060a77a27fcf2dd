-- +goose Up
-- Deleted accounts: the user's row and personal data are gone, but the
-- audit entries of their activity (audit_logs.admin_id) stay readable to
-- each organization, under the name they had, until purge_at (30 days
-- after the deletion); the retention purge then deletes them and this row.
CREATE TABLE deleted_users (
    user_id TEXT PRIMARY KEY,
    deleted_at BIGINT NOT NULL,
    purge_at BIGINT NOT NULL
);
CREATE INDEX deleted_users_purge ON deleted_users(purge_at);

-- How long an organization keeps its other audit entries, in days.
ALTER TABLE orgs ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365;

-- Failed logins on an existing account (Mist's /api/v1/self/login_failures):
-- no password, only when, from where and why.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL
);
CREATE INDEX login_failures_user ON login_failures(user_id, ts);
CREATE INDEX login_failures_ts ON login_failures(ts);

-- The organization's audit log: filters by site and time, newest first
-- with keyset pagination (ts, id); the retention purge by time.
DROP INDEX audit_logs_org; -- (org_id, ts): the index below covers it
CREATE INDEX audit_logs_org_ts_id ON audit_logs(org_id, ts, id);
CREATE INDEX audit_logs_org_site ON audit_logs(org_id, site_id, ts);
CREATE INDEX audit_logs_ts ON audit_logs(ts);

-- The API token a change was made with, by name ('' for a session).
ALTER TABLE audit_logs ADD COLUMN api_token_name TEXT NOT NULL DEFAULT '';

-- A lease that lets one instance at a time run a background job (the
-- retention purge) when several share the database.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE job_leases;
ALTER TABLE audit_logs DROP COLUMN api_token_name;
DROP INDEX audit_logs_ts;
DROP INDEX audit_logs_org_site;
DROP INDEX audit_logs_org_ts_id;
CREATE INDEX audit_logs_org ON audit_logs(org_id, ts);
DROP TABLE login_failures;
ALTER TABLE orgs DROP COLUMN audit_retention_days;
DROP TABLE deleted_users;
