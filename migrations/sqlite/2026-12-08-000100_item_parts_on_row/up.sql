-- What an item's view shows of its custom values and labels, kept on the item's own row: its
-- values as `field_values` (a JSON array of stored rows, as src/model/field/value.rs decodes
-- them; NULL when it has none) and its labels' ids as `label_ids` ("3,7"; NULL when none).
-- Reading them with the row costs a list no statements of its own and a GET no subqueries
-- (docs/benchmarks.md). The tables stay the record, and the only source for filters, sorts and
-- totals; triggers refresh the copies on every change of them, cascades included, so no write
-- path can forget one. A new row is appended to its item's copy; a removed or changed one
-- rebuilds it. Expand-only: nodes of the previous release neither read nor need the columns,
-- and their writes keep them right through the triggers.
ALTER TABLE items ADD COLUMN field_values TEXT;
ALTER TABLE items ADD COLUMN label_ids TEXT;

UPDATE items SET field_values = (
    SELECT json_group_array(json_array(field_id, text_value, long_value, int_value,
        CASE WHEN decimal_value IS NULL THEN NULL ELSE printf('%!.17g', decimal_value) END, date_value, bool_value,
        choice_id, user_id))
    FROM item_values WHERE item_values.item_id = items.id
) WHERE id IN (SELECT item_id FROM item_values);
UPDATE items SET label_ids = (SELECT group_concat(label_id, ',') FROM item_labels WHERE item_labels.item_id = items.id)
    WHERE id IN (SELECT item_id FROM item_labels);

CREATE TRIGGER items_field_values_insert AFTER INSERT ON item_values
BEGIN
    UPDATE items SET field_values = json_insert(COALESCE(field_values, '[]'), '$[#]', json_array(NEW.field_id,
        NEW.text_value, NEW.long_value, NEW.int_value,
        CASE WHEN NEW.decimal_value IS NULL THEN NULL ELSE printf('%!.17g', NEW.decimal_value) END, NEW.date_value,
        NEW.bool_value, NEW.choice_id, NEW.user_id))
    WHERE id = NEW.item_id;
END;
CREATE TRIGGER items_field_values_delete AFTER DELETE ON item_values
BEGIN
    UPDATE items SET field_values = (
        SELECT json_group_array(json_array(field_id, text_value, long_value, int_value,
            CASE WHEN decimal_value IS NULL THEN NULL ELSE printf('%!.17g', decimal_value) END, date_value, bool_value,
            choice_id, user_id))
        FROM item_values WHERE item_values.item_id = items.id HAVING count(*) > 0
    ) WHERE id = OLD.item_id;
END;
-- Updates in place (Baton replaces rows instead, but a manual fix may not); the list of
-- columns keeps an item's move or status change, which rewrite its values' placement, from
-- refreshing anything.
CREATE TRIGGER items_field_values_update AFTER UPDATE OF item_id, field_id, text_value, long_value, int_value,
    decimal_value, date_value, bool_value, choice_id, user_id ON item_values
BEGIN
    UPDATE items SET field_values = (
        SELECT json_group_array(json_array(field_id, text_value, long_value, int_value,
            CASE WHEN decimal_value IS NULL THEN NULL ELSE printf('%!.17g', decimal_value) END, date_value, bool_value,
            choice_id, user_id))
        FROM item_values WHERE item_values.item_id = items.id HAVING count(*) > 0
    ) WHERE id IN (OLD.item_id, NEW.item_id);
END;

CREATE TRIGGER items_label_ids_insert AFTER INSERT ON item_labels
BEGIN
    UPDATE items SET label_ids = CASE WHEN label_ids IS NULL THEN CAST(NEW.label_id AS TEXT)
        ELSE label_ids || ',' || NEW.label_id END
    WHERE id = NEW.item_id;
END;
CREATE TRIGGER items_label_ids_delete AFTER DELETE ON item_labels
BEGIN
    UPDATE items SET label_ids = (SELECT group_concat(label_id, ',') FROM item_labels WHERE item_labels.item_id = items.id)
        WHERE id = OLD.item_id;
END;
CREATE TRIGGER items_label_ids_update AFTER UPDATE ON item_labels
BEGIN
    UPDATE items SET label_ids = (SELECT group_concat(label_id, ',') FROM item_labels WHERE item_labels.item_id = items.id)
        WHERE id IN (OLD.item_id, NEW.item_id);
END;
