-- +goose Up
-- A site's rename moves auth_epoch (00019) and concerns everyone, as its
-- deletion does (00024): the privileges an authentication cache holds
-- carry their site's name (GET /api/v1/self shows it), and were shown
-- under the old name until something else moved the counter. An
-- organization's rename already moved it (auth_epoch_orgs_update).
-- +goose StatementBegin
CREATE TRIGGER auth_epoch_sites_rename AFTER UPDATE OF name ON sites FOR EACH ROW
    WHEN NEW.name IS NOT OLD.name
BEGIN
    UPDATE auth_epoch SET n = n + 1 WHERE id = 1;
    INSERT INTO auth_changes (epoch, user_id) SELECT n, NULL FROM auth_epoch WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER auth_epoch_sites_rename;
