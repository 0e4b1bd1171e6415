-- Day parts of the incremental daily report (analytics `incremental`): one per (experiment,
-- series, day), where the series names the window and the log's optional columns. A part is
-- written once its next day is over and read by every later report; erasing a user or seeding
-- simulated history forgets them, and the next report computes them again.
CREATE TABLE report_parts (
    experiment TEXT NOT NULL,
    series     TEXT NOT NULL,
    day        BIGINT NOT NULL,         -- days since 1970-01-01 (UTC)
    part       BYTEA NOT NULL,          -- the part's frames as Parquet
    PRIMARY KEY (experiment, series, day)
);
