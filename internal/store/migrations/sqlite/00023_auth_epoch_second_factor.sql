-- +goose Up
-- A login's second factor no longer moves auth_epoch (00019): every TOTP
-- login emptied the authentication cache of every instance.
--   - A session owing its second factor is never cached
--     (internal/app/authcache.go), so its passing does not move the
--     counter, nor the new token it gets in the same statement
--     (PassPendingSession); a new token alone, or a passed session made
--     to owe its factor again, still does.
--   - The last accepted TOTP step (last_step, the replay guard) is not
--     cached, so its change alone does not move it; every other column of
--     two_factor still does.
DROP TRIGGER auth_epoch_sessions_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.expires_at < OLD.expires_at OR NEW.id IS NOT OLD.id OR NEW.user_id IS NOT OLD.user_id OR NEW.csrf_token IS NOT OLD.csrf_token OR NEW.created_at IS NOT OLD.created_at OR NEW.auth_at IS NOT OLD.auth_at OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent OR NEW.password_only IS NOT OLD.password_only
        OR (NEW.token_hash IS NOT OLD.token_hash AND NOT (NOT OLD.two_factor_passed AND NEW.two_factor_passed))
        OR (OLD.two_factor_passed AND NOT NEW.two_factor_passed)
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW
    WHEN NEW.user_id IS NOT OLD.user_id OR NEW.secret IS NOT OLD.secret OR NEW.verified IS NOT OLD.verified OR NEW.created_at IS NOT OLD.created_at OR NEW.verified_at IS NOT OLD.verified_at
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_epoch_sessions_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.expires_at < OLD.expires_at OR NEW.id IS NOT OLD.id OR NEW.token_hash IS NOT OLD.token_hash OR NEW.user_id IS NOT OLD.user_id OR NEW.csrf_token IS NOT OLD.csrf_token OR NEW.created_at IS NOT OLD.created_at OR NEW.auth_at IS NOT OLD.auth_at OR NEW.two_factor_passed IS NOT OLD.two_factor_passed OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent OR NEW.password_only IS NOT OLD.password_only
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
DROP TRIGGER auth_epoch_two_factor_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_two_factor_update AFTER UPDATE ON two_factor FOR EACH ROW
BEGIN UPDATE auth_epoch SET n = n + 1 WHERE id = 1; END;
-- +goose StatementEnd
