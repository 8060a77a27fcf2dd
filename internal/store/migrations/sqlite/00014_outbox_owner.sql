-- +goose Up
-- lease_owner: the instance (PORTAL_INSTANCE_ID) whose lease a claimed
-- message is under, so that an instance restarting after a crash takes its
-- own claims back at once instead of waiting for their lease to expire.
-- failed_at: when a message failed for good (a permanent refusal, or too
-- many temporary ones); it is never tried again.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
-- Messages given up before: their next attempt was set a century ahead.
UPDATE outbox SET failed_at = created_at WHERE sent_at IS NULL AND next_attempt_at > 4102444800000;

-- +goose Down
UPDATE outbox SET next_attempt_at = 9000000000000 WHERE failed_at IS NOT NULL AND sent_at IS NULL;
ALTER TABLE outbox DROP COLUMN failed_at;
ALTER TABLE outbox DROP COLUMN lease_owner;
