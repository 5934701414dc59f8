DROP TRIGGER items_children_insert;
DROP TRIGGER items_children_update;
DROP TRIGGER items_children_delete;
DROP INDEX items_parent;
ALTER TABLE items DROP COLUMN children_count;
ALTER TABLE items DROP COLUMN parent_id;
