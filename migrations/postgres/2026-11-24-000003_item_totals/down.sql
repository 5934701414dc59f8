DROP TRIGGER item_totals_track ON items;
DROP FUNCTION item_totals_track();
DROP TABLE item_totals;
