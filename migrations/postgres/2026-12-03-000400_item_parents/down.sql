DROP TRIGGER items_children_insert ON items;
DROP TRIGGER items_children_update ON items;
DROP TRIGGER items_children_delete ON items;
DROP FUNCTION items_children();
DROP INDEX items_parent;
ALTER TABLE items DROP COLUMN children_count;
ALTER TABLE items DROP COLUMN parent_id;
