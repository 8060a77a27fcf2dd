-- +goose Up
-- PostgreSQL's auth_epoch triggers now fire at commit (see the PostgreSQL
-- migration of the same number). SQLite has one writer at a time, so a
-- trigger that fires at the statement holds nothing up: nothing changes
-- here.
SELECT 1;

-- +goose Down
SELECT 1;
