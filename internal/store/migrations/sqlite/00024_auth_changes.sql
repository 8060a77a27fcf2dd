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
-- The triggers are those of 00019 and 00023, under the same conditions;
-- each now writes its row too. On SQLite they fire for each row changed
-- and move the counter each time: one row per value (two where a row moves
-- from one user to another).
CREATE TABLE auth_changes (
    epoch BIGINT NOT NULL,
    user_id TEXT
);
CREATE UNIQUE INDEX auth_changes_epoch_user ON auth_changes (epoch, user_id);

DROP TRIGGER auth_epoch_users_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE ON users FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.id FROM auth_epoch WHERE id = 1 AND NEW.id IS NOT OLD.id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_users_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sessions_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sessions_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.expires_at < OLD.expires_at OR NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.csrf_token IS NOT OLD.csrf_token OR NEW.created_at IS NOT OLD.created_at OR NEW.auth_at IS NOT OLD.auth_at OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent OR NEW.password_only IS NOT OLD.password_only
        OR (NEW.token_hash IS NOT OLD.token_hash AND NOT (NOT OLD.two_factor_passed AND NEW.two_factor_passed))
        OR (OLD.two_factor_passed AND NOT NEW.two_factor_passed)
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1 AND NEW.user_id IS NOT OLD.user_id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_api_tokens_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_api_tokens_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.name IS NOT OLD.name OR NEW.key_hash IS NOT OLD.key_hash OR NEW.created_at IS NOT OLD.created_at
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1 AND NEW.user_id IS NOT OLD.user_id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW
    WHEN NEW.user_id IS NOT OLD.user_id OR NEW.secret IS NOT OLD.secret OR NEW.verified IS NOT OLD.verified OR NEW.created_at IS NOT OLD.created_at OR NEW.verified_at IS NOT OLD.verified_at
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1 AND NEW.user_id IS NOT OLD.user_id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1 AND NEW.user_id IS NOT OLD.user_id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_orgs_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NULL FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_orgs_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NULL FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sites_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NULL FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NEW.user_id FROM auth_epoch WHERE id = 1 AND NEW.user_id IS NOT OLD.user_id;
END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, OLD.user_id FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_epoch_users_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE ON users FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_users_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sessions_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sessions_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.expires_at < OLD.expires_at OR NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.csrf_token IS NOT OLD.csrf_token OR NEW.created_at IS NOT OLD.created_at OR NEW.auth_at IS NOT OLD.auth_at OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent OR NEW.password_only IS NOT OLD.password_only
        OR (NEW.token_hash IS NOT OLD.token_hash AND NOT (NOT OLD.two_factor_passed AND NEW.two_factor_passed))
        OR (OLD.two_factor_passed AND NOT NEW.two_factor_passed)
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_api_tokens_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_api_tokens_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.name IS NOT OLD.name OR NEW.key_hash IS NOT OLD.key_hash OR NEW.created_at IS NOT OLD.created_at
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW
    WHEN NEW.user_id IS NOT OLD.user_id OR NEW.secret IS NOT OLD.secret OR NEW.verified IS NOT OLD.verified OR NEW.created_at IS NOT OLD.created_at OR NEW.verified_at IS NOT OLD.verified_at
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_privileges_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_orgs_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_orgs_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_sites_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_insert;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_identity_links_delete;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TABLE auth_changes;
