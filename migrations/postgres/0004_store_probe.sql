-- One row that `/readyz` rewrites: readiness means a write commits, not only that a read answers
-- (a full disk or a read-only replica still answers `SELECT 1`).
CREATE TABLE store_probe (
    id        INTEGER PRIMARY KEY,
    probed_at BIGINT NOT NULL
);
