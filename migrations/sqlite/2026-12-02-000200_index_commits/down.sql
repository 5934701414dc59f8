ALTER TABLE cluster_nodes DROP COLUMN open_index_commits;
DROP TABLE index_commits;
