-- Timestamps are INTEGER microseconds since the Unix epoch, UTC: exact, sortable and what the
-- analytics schema (Datetime(us, UTC)) reads without conversion.

CREATE TABLE experiments (
    key         TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,          -- the JSON definition, defaults filled in
    status      TEXT NOT NULL CHECK (status IN ('draft', 'running', 'stopped')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    started_at  INTEGER,
    stopped_at  INTEGER
);

-- First sight of each user, for `audience = "new_users"`.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    first_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

-- First exposure, once per (experiment, user).
CREATE TABLE assignments (
    experiment  TEXT NOT NULL REFERENCES experiments (key),
    user_id     TEXT NOT NULL,
    arm         TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    simulated   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, user_id)
) WITHOUT ROWID;

CREATE TABLE conversations (
    conversation_id TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    experiment      TEXT,               -- null for direct model traffic
    arm             TEXT,               -- null when the user is not enrolled
    created_at      INTEGER NOT NULL,
    simulated       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_user ON conversations (user_id);

CREATE TABLE messages (
    message_id        TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    position          INTEGER NOT NULL, -- 0-based place in the conversation
    user_id           TEXT NOT NULL,
    experiment        TEXT,
    arm               TEXT,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content           TEXT NOT NULL,
    model             TEXT,             -- the component that wrote an assistant message
    choice_prob       REAL,             -- probability with which the policy chose that component
    latency_ms        REAL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    finish_reason     TEXT,
    created_at        INTEGER NOT NULL,
    simulated         INTEGER NOT NULL DEFAULT 0,
    -- Two concurrent turns on one conversation cannot both take the same place.
    UNIQUE (conversation_id, position)
);
CREATE INDEX messages_by_experiment_time ON messages (experiment, created_at);
CREATE INDEX messages_by_user ON messages (user_id);

CREATE TABLE events (
    event_id        INTEGER PRIMARY KEY,
    user_id         TEXT NOT NULL,
    conversation_id TEXT,
    message_id      TEXT,
    kind            TEXT NOT NULL,
    value           REAL,
    created_at      INTEGER NOT NULL,
    simulated       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_user ON events (user_id);
