-- Cluster coordination. All times are database time, written with millisecond precision.

-- Every live node, refreshed by its heartbeat; rows older than the node timeout are removed.
CREATE TABLE cluster_nodes (
    name TEXT PRIMARY KEY NOT NULL,
    -- Random per process start: tells a restarted node from a second process with its name.
    instance TEXT NOT NULL,
    hostname TEXT NOT NULL,
    base_url TEXT NOT NULL,
    version TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    maintenance BOOLEAN NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT ''
);

-- The master lease: exactly one row. epoch grows by one with every acquisition.
CREATE TABLE cluster_lease (
    id INTEGER PRIMARY KEY,
    holder TEXT,
    holder_instance TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    renewed_at TIMESTAMP,
    handover_to TEXT,
    handover_at TIMESTAMP
);
INSERT INTO cluster_lease (id, epoch) VALUES (1, 0);

-- Append-only log of joins, leaves, acquisitions, releases, losses, handovers, maintenance.
CREATE TABLE cluster_events (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    epoch BIGINT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cluster_events_at ON cluster_events(at);

-- Written by the probe duty (cluster.probe_duty), one fenced row per heartbeat of the master.
CREATE TABLE cluster_probe (
    id INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    at TIMESTAMP NOT NULL
);
