-- What an item's view shows of its custom values and labels, kept on the item's own row: its
-- values as `field_values` (a JSON array of stored rows, as src/model/field/value.rs decodes
-- them; NULL when it has none) and its labels' ids as `label_ids` ("3,7"; NULL when none).
-- Reading them with the row costs a list no statements of its own and a GET no subqueries
-- (docs/benchmarks.md). The tables stay the record, and the only source for filters, sorts and
-- totals; triggers refresh the copies on every change of them, cascades included, so no write
-- path can forget one. Each refresh locks the items' rows first: the statement that then
-- rebuilds the copies sees whatever another transaction committed for the same items meanwhile.
-- Expand-only: nodes of the previous release neither read nor need the columns, and their
-- writes keep them right through the triggers.
ALTER TABLE items ADD COLUMN field_values TEXT, ADD COLUMN label_ids TEXT;

-- What the copies are, by item (for the items that have values or labels): the one definition
-- the refresh, the filling below and the tests read. A view's condition on `item_id` goes down
-- into its grouping, so one item's copy reads that item's rows only. Floats are written as
-- text that gives back the same number, which needs `extra_float_digits = 1` (every Baton
-- session sets it; the refresh sets it too).
CREATE VIEW item_field_values_now AS
    SELECT item_id, CAST(json_agg(json_build_array(field_id, text_value, long_value, int_value,
        CAST(decimal_value AS TEXT), date_value, CAST(bool_value AS INTEGER), choice_id, user_id)) AS TEXT) AS field_values
    FROM item_values GROUP BY item_id;
CREATE VIEW item_label_ids_now AS
    SELECT item_id, string_agg(CAST(label_id AS TEXT), ',') AS label_ids FROM item_labels GROUP BY item_id;

SET extra_float_digits = 1;
UPDATE items SET field_values = fresh.field_values FROM item_field_values_now fresh WHERE fresh.item_id = items.id;
UPDATE items SET label_ids = fresh.label_ids FROM item_label_ids_now fresh WHERE fresh.item_id = items.id;

-- One refresh per item and statement, however many of its rows the statement wrote: the
-- statement's changed rows come as `changed` (a transition table); a row trigger (updates in
-- place, below) gives its old and new item. A PL/pgSQL function keeps its statements' plans
-- (the refresh of a created item's six values took 247 µs through a SQL function, which is
-- planned on every call, and 85 µs here, reading the view).
CREATE FUNCTION items_parts_refresh() RETURNS trigger LANGUAGE plpgsql SET extra_float_digits = 1 AS $$
DECLARE
    touched BIGINT[];
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        touched := ARRAY[OLD.item_id, NEW.item_id];
    ELSE
        touched := ARRAY(SELECT item_id FROM changed);
    END IF;
    PERFORM 1 FROM items WHERE id = ANY(touched) ORDER BY id FOR NO KEY UPDATE;
    IF TG_TABLE_NAME = 'item_values' THEN
        UPDATE items SET field_values = (SELECT fresh.field_values FROM item_field_values_now fresh WHERE fresh.item_id = items.id)
            WHERE id = ANY(touched);
    ELSE
        UPDATE items SET label_ids = (SELECT fresh.label_ids FROM item_label_ids_now fresh WHERE fresh.item_id = items.id)
            WHERE id = ANY(touched);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER items_field_values_insert AFTER INSERT ON item_values
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_parts_refresh();
CREATE TRIGGER items_field_values_delete AFTER DELETE ON item_values
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_parts_refresh();
CREATE TRIGGER items_label_ids_insert AFTER INSERT ON item_labels
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_parts_refresh();
CREATE TRIGGER items_label_ids_delete AFTER DELETE ON item_labels
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_parts_refresh();
-- Updates in place (Baton replaces rows instead, but a manual fix may not): row triggers, as a
-- transition table cannot go with the list of columns that keeps an item's move or status
-- change (which rewrite its values' placement) from refreshing anything.
CREATE TRIGGER items_field_values_update AFTER UPDATE OF item_id, field_id, text_value, long_value, int_value,
    decimal_value, date_value, bool_value, choice_id, user_id ON item_values
    FOR EACH ROW EXECUTE FUNCTION items_parts_refresh();
CREATE TRIGGER items_label_ids_update AFTER UPDATE ON item_labels
    FOR EACH ROW EXECUTE FUNCTION items_parts_refresh();
