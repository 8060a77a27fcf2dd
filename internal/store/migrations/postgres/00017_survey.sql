-- +goose Up
-- survey_state: where one user stands with the survey prompt
-- (internal/app/survey.go): snoozed_until ("Not now": not before then),
-- never_at ("Don't ask again"), answered_at (the last answer: the prompt
-- stops), prompted_session (the id of the session the prompt was last shown
-- in: never twice in a session). Times are epoch milliseconds, 0 for none.
CREATE TABLE survey_state (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    snoozed_until BIGINT NOT NULL DEFAULT 0,
    never_at BIGINT NOT NULL DEFAULT 0,
    answered_at BIGINT NOT NULL DEFAULT 0,
    prompted_session TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- survey_answers: the answers. Results never say who answered; user_id is
-- kept only for one answer per user and day (day: whole days since the Unix
-- epoch, UTC) and for the user's own export. Deleting the account sets it
-- NULL and empties the comment (store.DeleteUser), leaving the ratings.
CREATE TABLE survey_answers (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    day BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    satisfaction INTEGER NOT NULL CHECK (satisfaction BETWEEN 1 AND 5),
    ease INTEGER NOT NULL CHECK (ease BETWEEN 1 AND 5),
    purpose TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX survey_answers_user_day ON survey_answers(user_id, day) WHERE user_id IS NOT NULL;
CREATE INDEX survey_answers_created ON survey_answers(created_at);

-- operators: accounts made operators of the deployment with `portal
-- operator add` (PORTAL_OPERATORS names more, by address, without a row);
-- operators see the survey's results.
CREATE TABLE operators (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE operators;
DROP TABLE survey_answers;
DROP TABLE survey_state;
