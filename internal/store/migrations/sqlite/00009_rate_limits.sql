-- +goose Up
-- login_throttle counted more than failed logins (sign-up, recovery,
-- invitation and e-mail change mails, wrong old passwords and codes): it is
-- the table of every rate limit (internal/app/limits.go), keyed by the
-- limit's name and what it counts; a row counts events, not failures.
ALTER TABLE login_throttle RENAME TO rate_limits;
ALTER TABLE rate_limits RENAME COLUMN failures TO events;

-- +goose Down
ALTER TABLE rate_limits RENAME COLUMN events TO failures;
ALTER TABLE rate_limits RENAME TO login_throttle;
