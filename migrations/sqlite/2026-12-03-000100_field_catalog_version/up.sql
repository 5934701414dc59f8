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
INSERT INTO field_catalog_version (id, database_key, version) VALUES (1, lower(hex(randomblob(16))), random());
CREATE TRIGGER fields_catalog_insert AFTER INSERT ON fields
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER fields_catalog_update AFTER UPDATE ON fields
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER fields_catalog_delete AFTER DELETE ON fields
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_choices_catalog_insert AFTER INSERT ON field_choices
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_choices_catalog_update AFTER UPDATE ON field_choices
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_choices_catalog_delete AFTER DELETE ON field_choices
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_projects_catalog_insert AFTER INSERT ON field_projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_projects_catalog_update AFTER UPDATE ON field_projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_projects_catalog_delete AFTER DELETE ON field_projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_types_catalog_insert AFTER INSERT ON field_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_types_catalog_update AFTER UPDATE ON field_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER field_types_catalog_delete AFTER DELETE ON field_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER projects_catalog_key AFTER UPDATE OF key ON projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
