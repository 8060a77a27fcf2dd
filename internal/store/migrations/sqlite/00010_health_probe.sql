-- +goose Up
-- One row that /readyz rewrites (at most every few seconds, DB.Ready) to
-- learn that the database still takes writes: not read-only, not full.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE health_probe;
