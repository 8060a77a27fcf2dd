-- +goose Up
-- When an operator disabled the account (`portal user disable`), in Unix
-- milliseconds; NULL while it is enabled. A disabled account cannot log in
-- or recover its password, and its sessions and API tokens are refused.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- +goose Down
ALTER TABLE users DROP COLUMN disabled_at;
