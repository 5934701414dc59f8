-- Item keys (src/model/item/key.rs): every item has a number in its project, shown with the
-- project's key (OPS-42). The database gives it, on insert and when an item moves to another
-- project: nodes of the previous release, the demo generator and every future insert get one.
-- Here each project has a sequence, `item_numbers_<project id>` (made with the project), so
-- concurrent creators never share a number and never wait for each other: a counter row would
-- stay locked until each create's commit reached the disk, one create at a time per project.
-- A rolled-back create leaves a gap (keys are unique, not gap-free). `projects.item_numbers`
-- is SQLite's counter (one schema for both backends); here it stays 0. `item_keys` keeps every
-- key an item ever had, so a key still names the item after a move; its primary key refuses a
-- second item under one key. Expand-only: old nodes never name the new columns, which have
-- defaults.
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
DO $$
DECLARE
    project RECORD;
BEGIN
    FOR project IN SELECT projects.id, coalesce(max(items.number), 0) + 1 AS next
                   FROM projects LEFT JOIN items ON items.project_id = projects.id GROUP BY projects.id LOOP
        EXECUTE format('CREATE SEQUENCE %I START %s', 'item_numbers_' || project.id, project.next);
    END LOOP;
END
$$;

CREATE FUNCTION projects_item_numbers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE SEQUENCE %I', 'item_numbers_' || NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_item_numbers AFTER INSERT ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_item_numbers();

CREATE FUNCTION items_key_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.number := nextval(('item_numbers_' || NEW.project_id)::regclass);
    RETURN NEW;
END
$$;
CREATE FUNCTION items_key_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO item_keys (project_id, number, item_id) VALUES (NEW.project_id, NEW.number, NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER items_key_insert BEFORE INSERT ON items
    FOR EACH ROW EXECUTE FUNCTION items_key_number();
CREATE TRIGGER items_key_move BEFORE UPDATE OF project_id ON items
    FOR EACH ROW WHEN (OLD.project_id <> NEW.project_id)
    EXECUTE FUNCTION items_key_number();
CREATE TRIGGER items_key_inserted AFTER INSERT ON items
    FOR EACH ROW EXECUTE FUNCTION items_key_record();
CREATE TRIGGER items_key_moved AFTER UPDATE OF project_id ON items
    FOR EACH ROW WHEN (OLD.project_id <> NEW.project_id)
    EXECUTE FUNCTION items_key_record();
