-- +goose Up
-- An invitation to join an organization, waiting for its mailed link. An
-- invitation is open while its status is 'pending' (expired or not: an
-- expired one is shown as such and can be re-sent); accepting, declining or
-- cancelling closes it. At most one invitation per organization and address
-- is open: inviting the address again replaces its link.
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by TEXT NOT NULL,
    invited_by_name TEXT NOT NULL DEFAULT '',
    hours INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    closed_at BIGINT,
    closed_by TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX invites_open ON invites(org_id, email_lower) WHERE status = 'pending';
CREATE INDEX invites_email ON invites(email_lower);

-- The sites of a site-scoped invitation. The invitation keeps its scope
-- when its sites are deleted, so it never widens to the whole organization.
CREATE TABLE invite_sites (
    invite_id TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    PRIMARY KEY (invite_id, site_id)
);
CREATE INDEX invite_sites_site ON invite_sites(site_id);

-- +goose Down
DROP TABLE invite_sites;
DROP TABLE invites;
