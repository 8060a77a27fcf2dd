-- +goose Up
-- An organization's change concerns its members only (the users with a
-- privilege in it, at the organization or at one of its sites), not
-- everyone (00024): what an authentication cache holds of an organization
-- (its name, policies, session settings and two-factor requirement) is
-- held for its members, through their privileges. So an administrator
-- editing one organization's settings no longer empties every cache of
-- every instance. An organization without members moves nothing: no cache
-- holds anything of it. Its deletion still concerns everyone (its
-- privileges are gone by the time the deferred trigger runs).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The counter's value this transaction moved it to, if it did.
    e text := current_setting('portal.auth_epoch', true);
    -- The column of the changed row that names its user; none (everyone)
    -- for an organization deleted or a site.
    col text := CASE TG_TABLE_NAME WHEN 'users' THEN 'id' WHEN 'orgs' THEN NULL WHEN 'sites' THEN NULL ELSE 'user_id' END;
    -- An organization changed: its members.
    members boolean := TG_TABLE_NAME = 'orgs' AND TG_OP = 'UPDATE';
BEGIN
    IF members THEN -- nested: NEW.id exists on orgs only
        IF NOT EXISTS (SELECT 1 FROM privileges WHERE org_id = NEW.id) THEN
            RETURN NULL;
        END IF;
    END IF;
    IF e IS NULL OR e = '' THEN
        UPDATE auth_epoch SET n = n + 1 WHERE id = 1 RETURNING n::text INTO e;
        PERFORM pg_notify('portal_auth', '');
        PERFORM set_config('portal.auth_epoch', e, true);
    END IF;
    IF members THEN
        INSERT INTO auth_changes (epoch, user_id)
            SELECT DISTINCT e::bigint, user_id FROM privileges WHERE org_id = NEW.id ON CONFLICT DO NOTHING;
    ELSIF col IS NULL THEN
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
DECLARE
    e text := current_setting('portal.auth_epoch', true);
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
