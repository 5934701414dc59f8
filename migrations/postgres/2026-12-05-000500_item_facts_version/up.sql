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
INSERT INTO item_facts_version (id, database_key, version)
    VALUES (1, md5(random()::text || clock_timestamp()::text), (random() * 9e18)::bigint);

CREATE FUNCTION item_facts_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE item_facts_version SET version = (random() * 9e18)::bigint;
    RETURN NULL;
END;
$$;
CREATE TRIGGER items_facts_update AFTER UPDATE OF title, status_id, project_id, number ON items
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.status_id IS DISTINCT FROM NEW.status_id
        OR OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.number IS DISTINCT FROM NEW.number)
    EXECUTE FUNCTION item_facts_bump();
CREATE TRIGGER items_facts_delete AFTER DELETE ON items
    FOR EACH STATEMENT EXECUTE FUNCTION item_facts_bump();
CREATE TRIGGER statuses_facts AFTER UPDATE OF is_closed ON statuses
    FOR EACH STATEMENT EXECUTE FUNCTION item_facts_bump();
CREATE TRIGGER projects_facts AFTER UPDATE OF key ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION item_facts_bump();
