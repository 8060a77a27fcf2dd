-- +goose Up
-- Two of a user's API tokens never share a name, compared without regard to
-- case (lower). Tokens made before this rule that share one keep the name
-- on the oldest (by created_at, then id); each later one is renamed
-- "<name> (2)", "<name> (3)"… in that order, or "<name> (<id>)" where that
-- name is taken too.
CREATE TEMPORARY TABLE api_token_renames AS
SELECT id, user_id, name, name || ' (' || n || ')' AS new_name
FROM (SELECT id, user_id, name,
             ROW_NUMBER() OVER (PARTITION BY user_id, lower(name) ORDER BY created_at, id) AS n
      FROM api_tokens) ranked
WHERE n > 1;
UPDATE api_token_renames SET new_name = name || ' (' || id || ')'
WHERE EXISTS (SELECT 1 FROM api_tokens t
              WHERE t.user_id = api_token_renames.user_id AND lower(t.name) = lower(api_token_renames.new_name));
UPDATE api_tokens SET name = (SELECT new_name FROM api_token_renames r WHERE r.id = api_tokens.id)
WHERE id IN (SELECT id FROM api_token_renames);
DROP TABLE api_token_renames;
CREATE UNIQUE INDEX api_tokens_user_name ON api_tokens(user_id, lower(name));

-- +goose Down
DROP INDEX api_tokens_user_name;
