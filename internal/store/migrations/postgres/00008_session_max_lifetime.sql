-- +goose Up
-- The absolute lifetime of a session, in days from its login (1-90):
-- activity extends a session by the organization's session_expiry, but
-- never past this. A user's sessions follow the shortest among their
-- organizations.
ALTER TABLE orgs ADD COLUMN session_max_lifetime INTEGER NOT NULL DEFAULT 30;

-- +goose Down
ALTER TABLE orgs DROP COLUMN session_max_lifetime;
