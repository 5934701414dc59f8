-- The search index commits the master approved, newest last: readers open the newest one,
-- with the commit's metadata from here rather than from the file on disk, so that a deposed
-- master's late commit is never read. Each master writes into a directory of its own
-- (`generation`, under data_dir/index). Rows are removed once no node reads them.
CREATE TABLE index_commits (
    id INTEGER PRIMARY KEY,
    generation TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    node TEXT NOT NULL,
    -- tantivy's meta.json of the commit
    meta TEXT NOT NULL,
    -- what the commit applied, for operators
    applied TEXT NOT NULL,
    committed_at TIMESTAMP NOT NULL,
    -- when a node that had stopped heartbeating was last seen reading it: the commit and its
    -- files are kept for a grace period after that, in case the node was only paused
    pinned_at TIMESTAMP
);

-- The index commits each node's search reader has open (ids, newest first, comma-separated),
-- written by the node whenever its reader switches: the master deletes no file they use. A
-- table of its own, not a column of cluster_nodes: the node's row is its agent's, whose
-- heartbeat must never wait behind the reader's write. A row counts only while a registered
-- node of that name and instance exists.
CREATE TABLE index_readers (
    node TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    open_commits TEXT NOT NULL
);
