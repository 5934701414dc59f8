-- What an item's view shows of its custom values and labels, kept on the item's own row: its
-- values as `field_values` (a JSON array of stored rows, as src/model/field/value.rs decodes
-- them; NULL when it has none) and its labels' ids as `label_ids` ("3,7"; NULL when none).
-- Reading them with the row costs a list no statements of its own and a GET no subqueries
-- (docs/benchmarks.md). The tables stay the record, and the only source for filters, sorts and
-- totals; triggers refresh the copies on every change of them, cascades included, so no write
-- path can forget one. Each refresh locks the item's row first: the statement that then
-- rebuilds the copy sees whatever another transaction committed for the same item meanwhile.
-- Expand-only: nodes of the previous release neither read nor need the columns, and their
-- writes keep them right through the triggers.
ALTER TABLE items ADD COLUMN field_values TEXT, ADD COLUMN label_ids TEXT;

-- The copies of the items that have values or labels now. Each trigger function below spells
-- the same statements out rather than calling a SQL function: PL/pgSQL keeps its statements'
-- plans, while a SQL function that is not inlined is planned on every call (the refresh of a
-- created item's values took 247 µs that way). Floats are written as text that gives back the
-- same number, whatever the session's setting.
SET extra_float_digits = 1;
UPDATE items SET field_values = (
    SELECT CAST(json_agg(json_build_array(field_id, text_value, long_value, int_value,
        CAST(decimal_value AS TEXT), date_value, CAST(bool_value AS INTEGER), choice_id, user_id)) AS TEXT)
    FROM item_values WHERE item_values.item_id = items.id
) WHERE id IN (SELECT item_id FROM item_values);
UPDATE items SET label_ids = (
    SELECT string_agg(CAST(label_id AS TEXT), ',') FROM item_labels WHERE item_labels.item_id = items.id
) WHERE id IN (SELECT item_id FROM item_labels);

-- The statement's changed rows as `changed` (a transition table): one refresh per item and
-- statement, however many of its rows the statement wrote.
CREATE FUNCTION items_field_values_refresh() RETURNS trigger LANGUAGE plpgsql SET extra_float_digits = 1 AS $$
BEGIN
    PERFORM 1 FROM items WHERE id IN (SELECT item_id FROM changed) ORDER BY id FOR NO KEY UPDATE;
    UPDATE items SET field_values = (
        SELECT CAST(json_agg(json_build_array(field_id, text_value, long_value, int_value,
            CAST(decimal_value AS TEXT), date_value, CAST(bool_value AS INTEGER), choice_id, user_id)) AS TEXT)
        FROM item_values WHERE item_values.item_id = items.id
    ) WHERE id IN (SELECT item_id FROM changed);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_field_values_insert AFTER INSERT ON item_values
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_field_values_refresh();
CREATE TRIGGER items_field_values_delete AFTER DELETE ON item_values
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_field_values_refresh();

CREATE FUNCTION items_label_ids_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM items WHERE id IN (SELECT item_id FROM changed) ORDER BY id FOR NO KEY UPDATE;
    UPDATE items SET label_ids = (
        SELECT string_agg(CAST(label_id AS TEXT), ',') FROM item_labels WHERE item_labels.item_id = items.id
    ) WHERE id IN (SELECT item_id FROM changed);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_label_ids_insert AFTER INSERT ON item_labels
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_label_ids_refresh();
CREATE TRIGGER items_label_ids_delete AFTER DELETE ON item_labels
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION items_label_ids_refresh();

-- Updates in place (Baton replaces rows instead, but a manual fix may not): row triggers, as a
-- transition table cannot go with the list of columns that keeps an item's move or status
-- change (which rewrite its values' placement) from refreshing anything.
CREATE FUNCTION items_field_values_updated() RETURNS trigger LANGUAGE plpgsql SET extra_float_digits = 1 AS $$
BEGIN
    PERFORM 1 FROM items WHERE id IN (OLD.item_id, NEW.item_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE items SET field_values = (
        SELECT CAST(json_agg(json_build_array(field_id, text_value, long_value, int_value,
            CAST(decimal_value AS TEXT), date_value, CAST(bool_value AS INTEGER), choice_id, user_id)) AS TEXT)
        FROM item_values WHERE item_values.item_id = items.id
    ) WHERE id IN (OLD.item_id, NEW.item_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_field_values_update AFTER UPDATE OF item_id, field_id, text_value, long_value, int_value,
    decimal_value, date_value, bool_value, choice_id, user_id ON item_values
    FOR EACH ROW EXECUTE FUNCTION items_field_values_updated();
CREATE FUNCTION items_label_ids_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM items WHERE id IN (OLD.item_id, NEW.item_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE items SET label_ids = (
        SELECT string_agg(CAST(label_id AS TEXT), ',') FROM item_labels WHERE item_labels.item_id = items.id
    ) WHERE id IN (OLD.item_id, NEW.item_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_label_ids_update AFTER UPDATE ON item_labels
    FOR EACH ROW EXECUTE FUNCTION items_label_ids_updated();
