-- +goose Up
-- An e-mail change link, and the "this wasn't me" link made when it is
-- followed, remember from when the second factors of the account count as
-- set up by whoever made the change: the earlier of the request and the
-- sign-in of the session that made it. Undoing the change removes what was
-- set up since then, and keeps a second factor the owner had before.
-- 0 (rows written before this column): everything is removed, as before.
ALTER TABLE email_tokens ADD COLUMN factors_since BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE email_tokens DROP COLUMN factors_since;
