DROP TABLE cluster_probe;
DROP TABLE cluster_events;
DROP TABLE cluster_lease;
DROP TABLE cluster_nodes;
