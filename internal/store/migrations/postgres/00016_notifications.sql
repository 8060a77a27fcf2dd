-- +goose Up
-- subscriptions: a user's e-mail notifications for an organization
-- (site_id NULL: all its sites and the organization's own changes) or for
-- one of its sites. At most one per user and organization, and one per user
-- and site.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    site_id TEXT REFERENCES sites(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_user_org ON subscriptions(user_id, org_id) WHERE site_id IS NULL;
CREATE UNIQUE INDEX subscriptions_user_site ON subscriptions(user_id, site_id) WHERE site_id IS NOT NULL;
CREATE INDEX subscriptions_org ON subscriptions(org_id);

-- notifications: what one subscribed user is to be told, queued until a
-- digest claims it (digest_id set by one conditional UPDATE). site_id ''
-- is a change of the organization itself. Ending the subscription drops
-- what it queued.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL DEFAULT '',
    site_name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    text TEXT NOT NULL,
    mac TEXT NOT NULL DEFAULT '',
    event_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    digest_id TEXT,
    sent_at BIGINT
);
CREATE INDEX notifications_pending ON notifications(user_id, created_at) WHERE digest_id IS NULL;
CREATE INDEX notifications_digest ON notifications(digest_id);

-- unsubscribe_tokens: the one-click unsubscribe links of notification
-- mail (RFC 8058), as SHA-256 hashes. subscription_ids (comma-separated)
-- are what the link ends; description says them after they are gone.
CREATE TABLE unsubscribe_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subscription_ids TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);

-- outbox.list_unsubscribe: the one-click unsubscribe URL of a notification
-- mail ('' for other mail), sent as List-Unsubscribe.
ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN list_unsubscribe;
DROP TABLE unsubscribe_tokens;
DROP TABLE notifications;
DROP TABLE subscriptions;
