-- Runs of the scheduled jobs. Each occurrence (job, scheduled time) is one row under a
-- unique constraint, claimed by the master with its epoch: a failover neither skips nor
-- doubles a run. A run asked for by hand has no scheduled time, and no claim until the
-- master takes it.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    scheduled_for TIMESTAMP,
    requested_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    cause TEXT NOT NULL,
    epoch BIGINT,
    node TEXT,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_ms BIGINT,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    UNIQUE (job, scheduled_for)
);

CREATE INDEX job_runs_unfinished ON job_runs (finished_at);

-- The prune job removes mail receipts by age; the status shows the latest.
CREATE INDEX mail_received_at ON mail_received (received_at);
