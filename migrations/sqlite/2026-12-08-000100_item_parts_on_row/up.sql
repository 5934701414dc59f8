-- What an item's view shows of its custom values and labels, kept on the item's own row: its
-- values as `field_values` (a JSON array of stored rows, as src/model/field/value.rs decodes
-- them; NULL when it has none) and its labels' ids as `label_ids` ("3,7"; NULL when none).
-- Reading them with the row costs a list no statements of its own and a GET no subqueries
-- (docs/benchmarks.md). The tables stay the record, and the only source for filters, sorts and
-- totals; triggers rebuild an item's copy on every change of its rows, cascades included, so no
-- write path can forget one. Expand-only: nodes of the previous release neither read nor need
-- the columns, and their writes keep them right through the triggers.
ALTER TABLE items ADD COLUMN field_values TEXT;
ALTER TABLE items ADD COLUMN label_ids TEXT;

-- What the copies are, by item (for the items that have values or labels): the one definition
-- the triggers, the filling below and the tests read. A condition that names one item goes
-- down into the grouping, so its copy reads that item's rows only (a condition on another
-- table's column would not: the triggers name the item). Decimals as text that gives
-- back the same number (SQLite's JSON writes 15 digits).
CREATE VIEW item_field_values_now AS
    SELECT item_id, json_group_array(json_array(field_id, text_value, long_value, int_value,
        CASE WHEN decimal_value IS NULL THEN NULL ELSE printf('%!.17g', decimal_value) END, date_value, bool_value,
        choice_id, user_id)) AS field_values
    FROM item_values GROUP BY item_id;
CREATE VIEW item_label_ids_now AS
    SELECT item_id, group_concat(label_id, ',') AS label_ids FROM item_labels GROUP BY item_id;

UPDATE items SET field_values = fresh.field_values FROM item_field_values_now fresh WHERE fresh.item_id = items.id;
UPDATE items SET label_ids = fresh.label_ids FROM item_label_ids_now fresh WHERE fresh.item_id = items.id;

CREATE TRIGGER items_field_values_insert AFTER INSERT ON item_values
BEGIN
    UPDATE items SET field_values = (SELECT field_values FROM item_field_values_now WHERE item_id = NEW.item_id)
        WHERE id = NEW.item_id;
END;
CREATE TRIGGER items_field_values_delete AFTER DELETE ON item_values
BEGIN
    UPDATE items SET field_values = (SELECT field_values FROM item_field_values_now WHERE item_id = OLD.item_id)
        WHERE id = OLD.item_id;
END;
-- Updates in place (Baton replaces rows instead, but a manual fix may not); the list of
-- columns keeps an item's move or status change, which rewrite its values' placement, from
-- rebuilding anything.
CREATE TRIGGER items_field_values_update AFTER UPDATE OF item_id, field_id, text_value, long_value, int_value,
    decimal_value, date_value, bool_value, choice_id, user_id ON item_values
BEGIN
    UPDATE items SET field_values = (SELECT field_values FROM item_field_values_now WHERE item_id = OLD.item_id)
        WHERE id = OLD.item_id;
    UPDATE items SET field_values = (SELECT field_values FROM item_field_values_now WHERE item_id = NEW.item_id)
        WHERE id = NEW.item_id AND NEW.item_id <> OLD.item_id;
END;
CREATE TRIGGER items_label_ids_insert AFTER INSERT ON item_labels
BEGIN
    UPDATE items SET label_ids = (SELECT label_ids FROM item_label_ids_now WHERE item_id = NEW.item_id)
        WHERE id = NEW.item_id;
END;
CREATE TRIGGER items_label_ids_delete AFTER DELETE ON item_labels
BEGIN
    UPDATE items SET label_ids = (SELECT label_ids FROM item_label_ids_now WHERE item_id = OLD.item_id)
        WHERE id = OLD.item_id;
END;
CREATE TRIGGER items_label_ids_update AFTER UPDATE ON item_labels
BEGIN
    UPDATE items SET label_ids = (SELECT label_ids FROM item_label_ids_now WHERE item_id = OLD.item_id)
        WHERE id = OLD.item_id;
    UPDATE items SET label_ids = (SELECT label_ids FROM item_label_ids_now WHERE item_id = NEW.item_id)
        WHERE id = NEW.item_id AND NEW.item_id <> OLD.item_id;
END;
