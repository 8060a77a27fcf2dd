-- +goose Up
-- API tokens (Mist /api/v1/self/apitokens): only the SHA-256 of the key is
-- kept. last_used_at is NULL until the token is first used; a token unused
-- for 90 days (since last use, or creation) stops working.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at);

-- +goose Down
DROP TABLE api_tokens;
