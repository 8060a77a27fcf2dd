-- +goose Up
-- auth_changes tells whom each move of auth_epoch (00019) concerns, so that
-- an instance's authentication cache (internal/app/authcache.go) drops the
-- entries of those users only, not every entry: a row per user concerned,
-- under the counter's value after the change (epoch), written with the
-- change. user_id is NULL for a change that concerns every member of an
-- organization (its policies or settings changed, the organization or one
-- of its sites deleted): the cache is then emptied. Every value the counter
-- takes from here on has at least one row, so that a cache at value E that
-- finds a row for E + 1 has the whole log since E; the clean-up
-- (store.Purge) keeps the last values only (store.AuthChangesKept).
--
-- The triggers of 00019, 00022 and 00023 stay as they are, under the same
-- conditions: only their function changes. It still moves the counter once
-- per transaction, at commit, and keeps the new value for the
-- transaction's other rows, which log their users under it. The counter's
-- row lock orders the values as the commits: a transaction that reads
-- value N sees every row of every value up to N.
CREATE TABLE auth_changes (
    epoch BIGINT NOT NULL,
    user_id TEXT
);
CREATE UNIQUE INDEX auth_changes_epoch_user ON auth_changes (epoch, user_id);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The counter's value this transaction moved it to, if it did.
    e text := current_setting('portal.auth_epoch', true);
    -- The column of the changed row that names its user; none (everyone)
    -- for an organization or a site.
    col text := CASE TG_TABLE_NAME WHEN 'users' THEN 'id' WHEN 'orgs' THEN NULL WHEN 'sites' THEN NULL ELSE 'user_id' END;
BEGIN
    IF e IS NULL OR e = '' THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1 RETURNING n::text INTO e;
        PERFORM pg_notify('portal_auth', '');
        PERFORM set_config('portal.auth_epoch', e, true);
    END IF;
    IF col IS NULL THEN
        INSERT INTO auth_changes (epoch, user_id) VALUES (e::bigint, NULL);
    ELSE
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO auth_changes (epoch, user_id) VALUES (e::bigint, to_jsonb(OLD) ->> col) ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO auth_changes (epoch, user_id) VALUES (e::bigint, to_jsonb(NEW) ->> col) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per transaction, however many rows it changes.
    IF current_setting('portal.auth_epoch_bumped', true) IS DISTINCT FROM 'on' THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
        PERFORM pg_notify('portal_auth', '');
        PERFORM set_config('portal.auth_epoch_bumped', 'on', true);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TABLE auth_changes;
