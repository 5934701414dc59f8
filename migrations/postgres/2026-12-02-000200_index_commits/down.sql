DROP TABLE index_readers;
DROP TABLE index_commits;
