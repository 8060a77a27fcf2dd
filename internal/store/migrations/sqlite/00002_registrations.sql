-- +goose Up
-- A sign-up waits here until its link is followed; only then is the user
-- created, with the password given in that sign-up. Someone who signs up
-- first with another person's address therefore cannot plant a password.
CREATE TABLE registrations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    org_name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX registrations_email ON registrations(email_lower, created_at);

-- +goose Down
DROP TABLE registrations;
