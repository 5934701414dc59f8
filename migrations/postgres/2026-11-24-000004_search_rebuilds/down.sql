DROP TABLE search_rebuilds;
