DROP TABLE item_links;
