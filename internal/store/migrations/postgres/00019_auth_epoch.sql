-- +goose Up
-- auth_epoch counts the changes that can take a right away from a session
-- or an API token: a session or token ended or changed (a slide of a
-- session's expiry or a token's last use does not count), a user changed,
-- disabled or deleted, a second factor enrolled or removed, a membership or
-- role changed, an organization's policies changed or the organization
-- deleted, a site deleted, a Google link made or removed. Triggers keep it,
-- so that every writer counts: each instance, and the `portal` commands an
-- operator runs. Each instance caches what authenticates a request
-- (internal/app/authcache.go) under the counter's value and drops the cache
-- when the counter moves.
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.id IS DISTINCT FROM OLD.id OR NEW.token_hash IS DISTINCT FROM OLD.token_hash OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.csrf_token IS DISTINCT FROM OLD.csrf_token OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.auth_at IS DISTINCT FROM OLD.auth_at OR NEW.two_factor_passed IS DISTINCT FROM OLD.two_factor_passed OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.user_agent IS DISTINCT FROM OLD.user_agent OR NEW.password_only IS DISTINCT FROM OLD.password_only)
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.name IS DISTINCT FROM OLD.name OR NEW.key_hash IS DISTINCT FROM OLD.key_hash OR NEW.created_at IS DISTINCT FROM OLD.created_at)
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

-- +goose Down
DROP TRIGGER auth_epoch_users_update ON users;
DROP TRIGGER auth_epoch_users_delete ON users;
DROP TRIGGER auth_epoch_sessions_delete ON sessions;
DROP TRIGGER auth_epoch_sessions_update ON sessions;
DROP TRIGGER auth_epoch_api_tokens_delete ON api_tokens;
DROP TRIGGER auth_epoch_api_tokens_update ON api_tokens;
DROP TRIGGER auth_epoch_two_factor_insert ON two_factor;
DROP TRIGGER auth_epoch_two_factor_update ON two_factor;
DROP TRIGGER auth_epoch_two_factor_delete ON two_factor;
DROP TRIGGER auth_epoch_privileges_insert ON privileges;
DROP TRIGGER auth_epoch_privileges_update ON privileges;
DROP TRIGGER auth_epoch_privileges_delete ON privileges;
DROP TRIGGER auth_epoch_orgs_update ON orgs;
DROP TRIGGER auth_epoch_orgs_delete ON orgs;
DROP TRIGGER auth_epoch_sites_delete ON sites;
DROP TRIGGER auth_epoch_identity_links_insert ON identity_links;
DROP TRIGGER auth_epoch_identity_links_update ON identity_links;
DROP TRIGGER auth_epoch_identity_links_delete ON identity_links;
DROP FUNCTION auth_epoch_bump();
DROP TABLE auth_epoch;
