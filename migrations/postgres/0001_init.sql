-- The same schema as migrations/sqlite (0001-0004 folded together), in PostgreSQL's types.
-- Timestamps are BIGINT microseconds since the Unix epoch, UTC, as in SQLite: exact, sortable,
-- and what the analytics schema (Datetime(us, UTC)) reads without conversion. Integers are BIGINT
-- so that one Rust type (i64) reads and writes them on both stores.

CREATE TABLE experiments (
    key         TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,          -- the JSON definition, defaults filled in
    status      TEXT NOT NULL CHECK (status IN ('draft', 'running', 'stopped')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    started_at  BIGINT,
    stopped_at  BIGINT
);

-- First sight of each user, for `audience = "new_users"`.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    first_seen_at BIGINT NOT NULL
);

-- First exposure, once per (experiment, user), whichever replica sees the user first.
CREATE TABLE assignments (
    experiment  TEXT NOT NULL REFERENCES experiments (key),
    user_id     TEXT NOT NULL,
    arm         TEXT NOT NULL,
    assigned_at BIGINT NOT NULL,
    simulated   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, user_id)
);

CREATE TABLE conversations (
    conversation_id TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    experiment      TEXT,               -- null for direct model traffic
    arm             TEXT,               -- null when the user is not enrolled
    created_at      BIGINT NOT NULL,
    simulated       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_user ON conversations (user_id);

CREATE TABLE messages (
    message_id        TEXT PRIMARY KEY,
    conversation_id   TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    position          BIGINT NOT NULL,  -- 0-based place in the conversation
    user_id           TEXT NOT NULL,
    experiment        TEXT,
    arm               TEXT,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content           TEXT NOT NULL,
    model             TEXT,             -- the component that wrote an assistant message
    choice_prob       DOUBLE PRECISION, -- probability with which the policy chose that component
    latency_ms        DOUBLE PRECISION,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    finish_reason     TEXT,
    created_at        BIGINT NOT NULL,
    simulated         INTEGER NOT NULL DEFAULT 0,
    -- Prompt tokens the engine computed for a reply; the rest came from the KV cache.
    prefill_tokens    BIGINT,
    -- Two concurrent turns on one conversation cannot both take the same place.
    UNIQUE (conversation_id, position)
);
CREATE INDEX messages_by_user ON messages (user_id);
-- `blendlab export` reads one UTC day of all messages and events at a time.
CREATE INDEX messages_by_time ON messages (created_at);

CREATE TABLE events (
    event_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         TEXT NOT NULL,
    conversation_id TEXT,
    message_id      TEXT,
    kind            TEXT NOT NULL,
    value           DOUBLE PRECISION,
    created_at      BIGINT NOT NULL,
    simulated       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_user ON events (user_id);
CREATE INDEX events_by_time ON events (created_at);

-- Daily reports as computed after each UTC midnight (or backfilled), one per (experiment, as_of).
CREATE TABLE reports (
    experiment  TEXT NOT NULL REFERENCES experiments (key),
    as_of       TEXT NOT NULL,          -- YYYY-MM-DD
    report      TEXT NOT NULL,          -- the report JSON
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (experiment, as_of)
);
