-- Sub-items (src/model/item/tree.rs): an item's parent, in its own project, and how many
-- children it has, kept by triggers so that an item view needs no count. Expand-only: nodes
-- of the previous release neither read nor write these columns. No foreign key: SQLite could
-- not drop the column again; the model checks the parent, in the item's project, when it is set
-- (items go only with their project, children with them).
ALTER TABLE items ADD COLUMN parent_id BIGINT;
ALTER TABLE items ADD COLUMN children_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX items_parent ON items(parent_id, id) WHERE parent_id IS NOT NULL;

CREATE TRIGGER items_children_insert AFTER INSERT ON items
    WHEN NEW.parent_id IS NOT NULL
BEGIN
    UPDATE items SET children_count = children_count + 1 WHERE id = NEW.parent_id;
END;
CREATE TRIGGER items_children_update AFTER UPDATE OF parent_id ON items
    WHEN OLD.parent_id IS NOT NEW.parent_id
BEGIN
    UPDATE items SET children_count = children_count - 1 WHERE id = OLD.parent_id;
    UPDATE items SET children_count = children_count + 1 WHERE id = NEW.parent_id;
END;
CREATE TRIGGER items_children_delete AFTER DELETE ON items
    WHEN OLD.parent_id IS NOT NULL
BEGIN
    UPDATE items SET children_count = children_count - 1 WHERE id = OLD.parent_id;
END;
