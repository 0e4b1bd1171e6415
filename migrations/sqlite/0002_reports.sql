-- Daily reports as computed after each UTC midnight (or backfilled), one per (experiment, as_of).
CREATE TABLE reports (
    experiment  TEXT NOT NULL REFERENCES experiments (key),
    as_of       TEXT NOT NULL,          -- YYYY-MM-DD
    report      TEXT NOT NULL,          -- the report JSON
    computed_at INTEGER NOT NULL,
    PRIMARY KEY (experiment, as_of)
) WITHOUT ROWID;

-- `blendlab export` reads one UTC day of all messages and events at a time.
CREATE INDEX messages_by_time ON messages (created_at);
CREATE INDEX events_by_time ON events (created_at);
