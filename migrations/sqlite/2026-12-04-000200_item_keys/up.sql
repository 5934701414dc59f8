-- Item keys (src/model/item/key.rs): every item has a number in its project, shown with the
-- project's key (OPS-42). The database gives it, on insert and when an item moves to another
-- project, from a counter in the project's row (writers take turns on SQLite anyway;
-- PostgreSQL uses a sequence per project): nodes of the previous release, the demo generator
-- and every future insert get one, and concurrent creators cannot share a number.
-- `item_keys` keeps every key an item ever had, so a key still names the item after a move;
-- its primary key refuses a second item under one key. Expand-only: old nodes never name
-- the new columns, which have defaults.
ALTER TABLE projects ADD COLUMN item_numbers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN number BIGINT NOT NULL DEFAULT 0;
CREATE TABLE item_keys (
    project_id BIGINT NOT NULL REFERENCES projects(id),
    number BIGINT NOT NULL,
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, number)
);
CREATE INDEX item_keys_item ON item_keys(item_id);

UPDATE items SET number = numbered.number
    FROM (SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY id) AS number FROM items) AS numbered
    WHERE items.id = numbered.id;
INSERT INTO item_keys (project_id, number, item_id) SELECT project_id, number, id FROM items;
UPDATE projects SET item_numbers = (SELECT coalesce(max(number), 0) FROM items WHERE items.project_id = projects.id);

CREATE TRIGGER items_key_insert AFTER INSERT ON items
BEGIN
    UPDATE projects SET item_numbers = item_numbers + 1 WHERE id = NEW.project_id;
    UPDATE items SET number = (SELECT item_numbers FROM projects WHERE id = NEW.project_id) WHERE id = NEW.id;
    INSERT INTO item_keys (project_id, number, item_id) SELECT project_id, number, id FROM items WHERE id = NEW.id;
END;
CREATE TRIGGER items_key_move AFTER UPDATE OF project_id ON items
    WHEN OLD.project_id <> NEW.project_id
BEGIN
    UPDATE projects SET item_numbers = item_numbers + 1 WHERE id = NEW.project_id;
    UPDATE items SET number = (SELECT item_numbers FROM projects WHERE id = NEW.project_id) WHERE id = NEW.id;
    INSERT INTO item_keys (project_id, number, item_id) SELECT project_id, number, id FROM items WHERE id = NEW.id;
END;
