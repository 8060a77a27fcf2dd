-- +goose Up
-- Sign-in with an OpenID Connect provider (Google). identity_links ties a
-- provider's account, by its subject (the ID token's "sub", never the
-- e-mail address), to one Portal user: one Portal account per provider
-- account, one link per provider per user. email is what the provider
-- said when the link was made, shown to the user only.
CREATE TABLE identity_links (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL DEFAULT 0,
    UNIQUE (provider, subject),
    UNIQUE (user_id, provider)
);

-- oauth_flows are the authorization requests under way: the state (its
-- SHA-256), the nonce and the PKCE verifier (sealed with PORTAL_SECRET_KEY)
-- of each, bound to the browser that asked (browser_hash, the SHA-256 of a
-- random cookie) or to the session that asked (session_id). A flow is used
-- once: finishing it deletes it.
CREATE TABLE oauth_flows (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    provider TEXT NOT NULL,
    state_hash TEXT NOT NULL UNIQUE,
    browser_hash TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    forward TEXT NOT NULL DEFAULT '',
    via_api BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_flows_browser ON oauth_flows(browser_hash, created_at);
CREATE INDEX oauth_flows_session ON oauth_flows(session_id, created_at);
CREATE INDEX oauth_flows_expires ON oauth_flows(expires_at);

-- +goose Down
DROP TABLE oauth_flows;
DROP TABLE identity_links;
