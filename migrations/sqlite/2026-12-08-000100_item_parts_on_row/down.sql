DROP TRIGGER items_label_ids_update;
DROP TRIGGER items_label_ids_delete;
DROP TRIGGER items_label_ids_insert;
DROP TRIGGER items_field_values_update;
DROP TRIGGER items_field_values_delete;
DROP TRIGGER items_field_values_insert;
ALTER TABLE items DROP COLUMN label_ids;
ALTER TABLE items DROP COLUMN field_values;
