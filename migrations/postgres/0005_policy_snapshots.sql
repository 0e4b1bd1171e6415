-- Adaptive blends (policy = "thompson"): the snapshot a reply was drawn from; null for the others.
ALTER TABLE messages ADD COLUMN policy_version BIGINT;

-- One row per (experiment, arm, version): the probabilities every replica serves for that
-- version. The first replica to compute a version stores it; the others read it back.
CREATE TABLE policy_snapshots (
    experiment  TEXT NOT NULL,
    arm         TEXT NOT NULL,
    version     BIGINT NOT NULL,   -- the refresh interval's index: cutoff = version x interval
    cutoff      BIGINT NOT NULL,   -- µs; the rewards counted are those known by then
    computed_at BIGINT NOT NULL,
    models      TEXT NOT NULL,      -- JSON [{model, probability, successes, failures}]
    PRIMARY KEY (experiment, arm, version)
);
