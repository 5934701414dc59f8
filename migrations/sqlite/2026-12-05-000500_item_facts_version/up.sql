-- A version of what a reference to an item shows (src/model/reference.rs): its key, title and
-- whether its status is closed. Every change to those — an item's title, status, project or
-- number, its deletion, a status's closed flag, a project's key — gives the one row a new
-- random value (triggers, so no write path can forget it), so a node keeps the facts of the
-- items its pages referenced and checks this row instead of looking each item up again.
-- Creating an item changes no fact a node keeps (it keeps only references that named an item).
-- Expand-only: nodes of the previous release neither read nor need it.
CREATE TABLE item_facts_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    database_key TEXT NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO item_facts_version (id, database_key, version) VALUES (1, lower(hex(randomblob(16))), random());
-- A new item's number is set by an update (items_key_insert): that changes no kept fact.
CREATE TRIGGER items_facts_update AFTER UPDATE OF title, status_id, project_id, number ON items
    WHEN OLD.title IS NOT NEW.title OR OLD.status_id IS NOT NEW.status_id
        OR OLD.project_id IS NOT NEW.project_id OR (OLD.number IS NOT NEW.number AND OLD.number <> 0)
BEGIN UPDATE item_facts_version SET version = random(); END;
CREATE TRIGGER items_facts_delete AFTER DELETE ON items
BEGIN UPDATE item_facts_version SET version = random(); END;
CREATE TRIGGER statuses_facts AFTER UPDATE OF is_closed ON statuses
    WHEN OLD.is_closed IS NOT NEW.is_closed
BEGIN UPDATE item_facts_version SET version = random(); END;
CREATE TRIGGER projects_facts AFTER UPDATE OF key ON projects
    WHEN OLD.key IS NOT NEW.key
BEGIN UPDATE item_facts_version SET version = random(); END;
