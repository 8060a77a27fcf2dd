-- +goose Up
ALTER TABLE users ADD COLUMN phone2 TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mac_format TEXT NOT NULL DEFAULT 'xx:xx:xx:xx:xx:xx';
ALTER TABLE users ADD COLUMN hour24 BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
-- Set after "this wasn't me": the user must choose a new password by recovery.
ALTER TABLE users ADD COLUMN password_reset_required BOOLEAN NOT NULL DEFAULT FALSE;
-- The organization's password policy as JSON ('' = the defaults).
ALTER TABLE orgs ADD COLUMN password_policy TEXT NOT NULL DEFAULT '';
-- A session opened by a recovery link may only set a new password.
ALTER TABLE sessions ADD COLUMN password_only BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE password_history (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history(user_id, created_at);

-- +goose Down
DROP TABLE password_history;
ALTER TABLE sessions DROP COLUMN password_only;
ALTER TABLE orgs DROP COLUMN password_policy;
ALTER TABLE users DROP COLUMN password_reset_required;
ALTER TABLE users DROP COLUMN timezone;
ALTER TABLE users DROP COLUMN hour24;
ALTER TABLE users DROP COLUMN mac_format;
ALTER TABLE users DROP COLUMN phone2;
