-- +goose Up
-- Two-factor authentication (TOTP): one row per user who enabled it. The
-- secret is sealed with AES-GCM under PORTAL_SECRET_KEY (authn.SecretBox);
-- verified turns true once a first code was accepted. last_step is the
-- newest 30-second step whose code was accepted: a code is accepted only
-- for a later step, by one conditional UPDATE, so it is never accepted twice.
CREATE TABLE two_factor (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    verified_at BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes, stored as hashes; used_at 0 = still usable.
CREATE TABLE two_factor_recovery_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX two_factor_recovery_codes_user ON two_factor_recovery_codes(user_id, code_hash);

-- When the organization's policy began to require two-factor
-- authentication (0: it does not); a member's grace period starts then, or
-- when the member joined, whichever is later.
ALTER TABLE orgs ADD COLUMN two_factor_required_at BIGINT NOT NULL DEFAULT 0;
UPDATE orgs SET two_factor_required_at = modified_at
    WHERE password_policy LIKE '%"enabled":true%' AND password_policy LIKE '%"requires_two_factor_auth":true%';

-- +goose Down
ALTER TABLE orgs DROP COLUMN two_factor_required_at;
DROP TABLE two_factor_recovery_codes;
DROP TABLE two_factor;
