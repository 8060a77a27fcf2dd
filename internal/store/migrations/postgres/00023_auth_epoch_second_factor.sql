-- +goose Up
-- A login's second factor no longer moves auth_epoch (00019, 00022): every
-- TOTP login emptied the authentication cache of every instance.
--   - A session owing its second factor is never cached
--     (internal/app/authcache.go), so its passing does not move the
--     counter, nor the new token it gets in the same statement
--     (PassPendingSession); a new token alone, or a passed session made
--     to owe its factor again, still does.
--   - The last accepted TOTP step (last_step, the replay guard) is not
--     cached, so its change alone does not move it; every other column of
--     two_factor still does.
DROP TRIGGER auth_epoch_sessions_update ON sessions;
CREATE CONSTRAINT TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.id IS DISTINCT FROM OLD.id OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.csrf_token IS DISTINCT FROM OLD.csrf_token OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.auth_at IS DISTINCT FROM OLD.auth_at OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.user_agent IS DISTINCT FROM OLD.user_agent OR NEW.password_only IS DISTINCT FROM OLD.password_only
        OR (NEW.token_hash IS DISTINCT FROM OLD.token_hash AND NOT (NOT OLD.two_factor_passed AND NEW.two_factor_passed))
        OR (OLD.two_factor_passed AND NOT NEW.two_factor_passed))
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_update ON two_factor;
CREATE CONSTRAINT TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.secret IS DISTINCT FROM OLD.secret OR NEW.verified IS DISTINCT FROM OLD.verified OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.verified_at IS DISTINCT FROM OLD.verified_at)
    EXECUTE FUNCTION auth_epoch_bump();

-- +goose Down
DROP TRIGGER auth_epoch_sessions_update ON sessions;
CREATE CONSTRAINT TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.expires_at < OLD.expires_at OR NEW.id IS DISTINCT FROM OLD.id OR NEW.token_hash IS DISTINCT FROM OLD.token_hash OR NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.csrf_token IS DISTINCT FROM OLD.csrf_token OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.auth_at IS DISTINCT FROM OLD.auth_at OR NEW.two_factor_passed IS DISTINCT FROM OLD.two_factor_passed OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.user_agent IS DISTINCT FROM OLD.user_agent OR NEW.password_only IS DISTINCT FROM OLD.password_only)
    EXECUTE FUNCTION auth_epoch_bump();
DROP TRIGGER auth_epoch_two_factor_update ON two_factor;
CREATE CONSTRAINT TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_epoch_bump();
