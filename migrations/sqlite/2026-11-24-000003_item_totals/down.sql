DROP TRIGGER item_totals_after_delete;
DROP TRIGGER item_totals_after_update;
DROP TRIGGER item_totals_after_insert;
DROP TABLE item_totals;
