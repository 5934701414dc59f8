-- Requests to rebuild the search index from the database, and their progress. The master's
-- indexer takes the oldest unfinished one; a request whose master died is taken up again
-- by the next master.
CREATE TABLE search_rebuilds (
    id INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    started_at TIMESTAMP,
    node TEXT,
    epoch BIGINT,
    generation TEXT,
    items_total BIGINT NOT NULL DEFAULT 0,
    items_done BIGINT NOT NULL DEFAULT 0,
    finished_at TIMESTAMP,
    duration_ms BIGINT,
    error TEXT
);

CREATE INDEX search_rebuilds_unfinished ON search_rebuilds (finished_at, id);
