-- +goose Up
-- A site's rename moves auth_epoch (00019) and concerns everyone, as its
-- deletion does (00024): the privileges an authentication cache holds
-- carry their site's name (GET /api/v1/self shows it), and were shown
-- under the old name until something else moved the counter. An
-- organization's rename already moved it (auth_epoch_orgs_update). At
-- commit, as the other triggers (00022).
CREATE CONSTRAINT TRIGGER auth_epoch_sites_rename AFTER UPDATE OF name ON sites
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.name IS DISTINCT FROM OLD.name) EXECUTE FUNCTION auth_epoch_bump();

-- +goose Down
DROP TRIGGER auth_epoch_sites_rename ON sites;
