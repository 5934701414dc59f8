-- The version of the definitions (src/model/definitions.rs) covers what the pages' forms offer
-- from the projects too (src/model/project/setup.rs): projects, memberships, users' logins and
-- names, project types, versions, labels and components. A node keeps them in memory and checks
-- the one row per use; the item page read six tables. A project's key already has its trigger;
-- `item_numbers` (SQLite's item counter, written by every new item) is not among the columns.
CREATE TRIGGER projects_setup_insert AFTER INSERT ON projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER projects_setup_update AFTER UPDATE OF name, description, is_public, updated_at ON projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER projects_setup_delete AFTER DELETE ON projects
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER memberships_setup_insert AFTER INSERT ON memberships
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER memberships_setup_update AFTER UPDATE ON memberships
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER memberships_setup_delete AFTER DELETE ON memberships
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER users_setup_update AFTER UPDATE OF login, name ON users
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER users_setup_delete AFTER DELETE ON users
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER project_types_setup_insert AFTER INSERT ON project_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER project_types_setup_update AFTER UPDATE ON project_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER project_types_setup_delete AFTER DELETE ON project_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER versions_setup_insert AFTER INSERT ON versions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER versions_setup_update AFTER UPDATE ON versions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER versions_setup_delete AFTER DELETE ON versions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER labels_setup_insert AFTER INSERT ON labels
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER labels_setup_update AFTER UPDATE ON labels
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER labels_setup_delete AFTER DELETE ON labels
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER components_setup_insert AFTER INSERT ON components
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER components_setup_update AFTER UPDATE ON components
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER components_setup_delete AFTER DELETE ON components
BEGIN UPDATE field_catalog_version SET version = random(); END;
