-- A version of the field definitions (src/model/field/cache.rs): every change to fields, their
-- choices, their project and type scopes, or a project's key gives it a new random value, so
-- a node keeps the parsed definitions in memory and checks one row per use instead of reading
-- four tables. A random value, not a counter: a change rolled back never gives its version to
-- different definitions. `database_key` tells apart the databases of one process (tests).
CREATE TABLE field_catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    database_key TEXT NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO field_catalog_version (id, database_key, version)
    VALUES (1, md5(random()::text || clock_timestamp()::text), (random() * 9e18)::bigint);

CREATE FUNCTION field_catalog_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE field_catalog_version SET version = (random() * 9e18)::bigint;
    RETURN NULL;
END;
$$;
CREATE TRIGGER fields_catalog AFTER INSERT OR UPDATE OR DELETE ON fields
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER field_choices_catalog AFTER INSERT OR UPDATE OR DELETE ON field_choices
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER field_projects_catalog AFTER INSERT OR UPDATE OR DELETE ON field_projects
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER field_types_catalog AFTER INSERT OR UPDATE OR DELETE ON field_types
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER projects_catalog_key AFTER UPDATE OF key ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
