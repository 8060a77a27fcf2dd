-- +goose Up
-- The auth_epoch triggers (00019) fire at commit instead of at each
-- statement: they are constraint triggers, deferred. The counter's row is
-- then locked only while the transaction commits, not from the first
-- change to the commit across the transaction's other statements, so
-- transactions that each change a user or a session no longer queue
-- behind one another on that row for their round trips (PUT
-- /api/v1/self), and the row is always the last a transaction locks (no
-- lock-order cycle through it). The change and its count still commit
-- together, and a request that reads the counter after the commit sees
-- it moved, as before. SQLite has one writer at a time: nothing to defer
-- there.
DROP TRIGGER auth_epoch_users_update ON users;
CREATE CONSTRAINT TRIGGER auth_epoch_users_update AFTER UPDATE ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_users_delete ON users;
CREATE CONSTRAINT TRIGGER auth_epoch_users_delete AFTER DELETE ON users DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sessions_delete ON sessions;
CREATE CONSTRAINT TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sessions_update ON sessions;
CREATE CONSTRAINT TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.id IS DISTINCT FROM OLD.id OR NEW.token_hash IS DISTINCT FROM OLD.token_hash OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.csrf_token IS DISTINCT FROM OLD.csrf_token OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.auth_at IS DISTINCT FROM OLD.auth_at OR NEW.two_factor_passed IS DISTINCT FROM OLD.two_factor_passed OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.user_agent IS DISTINCT FROM OLD.user_agent OR NEW.password_only IS DISTINCT FROM OLD.password_only)
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_api_tokens_delete ON api_tokens;
CREATE CONSTRAINT TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_api_tokens_update ON api_tokens;
CREATE CONSTRAINT TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.name IS DISTINCT FROM OLD.name OR NEW.key_hash IS DISTINCT FROM OLD.key_hash OR NEW.created_at IS DISTINCT FROM OLD.created_at)
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_insert ON two_factor;
CREATE CONSTRAINT TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_update ON two_factor;
CREATE CONSTRAINT TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_delete ON two_factor;
CREATE CONSTRAINT TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_insert ON privileges;
CREATE CONSTRAINT TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_update ON privileges;
CREATE CONSTRAINT TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_delete ON privileges;
CREATE CONSTRAINT TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_orgs_update ON orgs;
CREATE CONSTRAINT TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_orgs_delete ON orgs;
CREATE CONSTRAINT TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sites_delete ON sites;
CREATE CONSTRAINT TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_insert ON identity_links;
CREATE CONSTRAINT TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_update ON identity_links;
CREATE CONSTRAINT TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_delete ON identity_links;
CREATE CONSTRAINT TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();

-- +goose Down
DROP TRIGGER auth_epoch_users_update ON users;
CREATE TRIGGER auth_epoch_users_update AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_users_delete ON users;
CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sessions_delete ON sessions;
CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sessions_update ON sessions;
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.id IS DISTINCT FROM OLD.id OR NEW.token_hash IS DISTINCT FROM OLD.token_hash OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.csrf_token IS DISTINCT FROM OLD.csrf_token OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.auth_at IS DISTINCT FROM OLD.auth_at OR NEW.two_factor_passed IS DISTINCT FROM OLD.two_factor_passed OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.user_agent IS DISTINCT FROM OLD.user_agent OR NEW.password_only IS DISTINCT FROM OLD.password_only)
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_api_tokens_delete ON api_tokens;
CREATE TRIGGER auth_epoch_api_tokens_delete AFTER DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_api_tokens_update ON api_tokens;
CREATE TRIGGER auth_epoch_api_tokens_update AFTER UPDATE ON api_tokens FOR EACH ROW
    WHEN (NEW.id IS DISTINCT FROM OLD.id OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.name IS DISTINCT FROM OLD.name OR NEW.key_hash IS DISTINCT FROM OLD.key_hash OR NEW.created_at IS DISTINCT FROM OLD.created_at)
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_insert ON two_factor;
CREATE TRIGGER auth_epoch_two_factor_insert AFTER INSERT ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_update ON two_factor;
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_delete ON two_factor;
CREATE TRIGGER auth_epoch_two_factor_delete AFTER DELETE ON two_factor FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_insert ON privileges;
CREATE TRIGGER auth_epoch_privileges_insert AFTER INSERT ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_update ON privileges;
CREATE TRIGGER auth_epoch_privileges_update AFTER UPDATE ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_privileges_delete ON privileges;
CREATE TRIGGER auth_epoch_privileges_delete AFTER DELETE ON privileges FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_orgs_update ON orgs;
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_orgs_delete ON orgs;
CREATE TRIGGER auth_epoch_orgs_delete AFTER DELETE ON orgs FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_sites_delete ON sites;
CREATE TRIGGER auth_epoch_sites_delete AFTER DELETE ON sites FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_insert ON identity_links;
CREATE TRIGGER auth_epoch_identity_links_insert AFTER INSERT ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_update ON identity_links;
CREATE TRIGGER auth_epoch_identity_links_update AFTER UPDATE ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_identity_links_delete ON identity_links;
CREATE TRIGGER auth_epoch_identity_links_delete AFTER DELETE ON identity_links FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
