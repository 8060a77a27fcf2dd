-- +goose Up
-- An organization's change concerns its members only (the users with a
-- privilege in it, at the organization or at one of its sites), not
-- everyone (00024): what an authentication cache holds of an organization
-- (its name, policies, session settings and two-factor requirement) is
-- held for its members, through their privileges. So an administrator
-- editing one organization's settings no longer empties every cache of
-- every instance. An organization without members moves nothing: no cache
-- holds anything of it. Its deletion still concerns everyone.
DROP TRIGGER auth_epoch_orgs_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW
    WHEN EXISTS (SELECT 1 FROM privileges WHERE org_id = NEW.id)
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id)
        SELECT DISTINCT a.n, p.user_id FROM auth_epoch a JOIN privileges p ON p.org_id = NEW.id WHERE a.id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_epoch_orgs_update;
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_orgs_update AFTER UPDATE ON orgs FOR EACH ROW
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NULL FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd
