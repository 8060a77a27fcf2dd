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
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE ON users FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.expires_at < OLD.expires_at OR NEW.id IS NOT OLD.id OR NEW.token_hash IS NOT OLD.token_hash OR NEW.user_id IS NOT OLD.user_id OR NEW.csrf_token IS NOT OLD.csrf_token OR NEW.created_at IS NOT OLD.created_at OR NEW.auth_at IS NOT OLD.auth_at OR NEW.two_factor_passed IS NOT OLD.two_factor_passed OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent OR NEW.password_only IS NOT OLD.password_only
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.name IS NOT OLD.name OR NEW.key_hash IS NOT OLD.key_hash OR NEW.created_at IS NOT OLD.created_at
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_epoch_users_update;
DROP TRIGGER auth_epoch_users_delete;
DROP TRIGGER auth_epoch_sessions_delete;
DROP TRIGGER auth_epoch_sessions_update;
DROP TRIGGER auth_epoch_api_tokens_delete;
DROP TRIGGER auth_epoch_api_tokens_update;
DROP TRIGGER auth_epoch_two_factor_insert;
DROP TRIGGER auth_epoch_two_factor_update;
DROP TRIGGER auth_epoch_two_factor_delete;
DROP TRIGGER auth_epoch_privileges_insert;
DROP TRIGGER auth_epoch_privileges_update;
DROP TRIGGER auth_epoch_privileges_delete;
DROP TRIGGER auth_epoch_orgs_update;
DROP TRIGGER auth_epoch_orgs_delete;
DROP TRIGGER auth_epoch_sites_delete;
DROP TRIGGER auth_epoch_identity_links_insert;
DROP TRIGGER auth_epoch_identity_links_update;
DROP TRIGGER auth_epoch_identity_links_delete;
DROP TABLE auth_epoch;
