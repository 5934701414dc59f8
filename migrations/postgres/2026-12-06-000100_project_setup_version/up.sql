-- The version of the definitions (src/model/definitions.rs) covers what the pages' forms offer
-- from the projects too (src/model/project/setup.rs): projects, memberships, users' logins and
-- names, project types, versions, labels and components. A node keeps them in memory and checks
-- the one row per use; the item page read six tables. A project's key already has its trigger;
-- `item_numbers` (SQLite's item counter, written by every new item) is not among the columns.
CREATE TRIGGER projects_setup AFTER INSERT OR DELETE OR UPDATE OF name, description, is_public, updated_at
    ON projects FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER memberships_setup AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER users_setup AFTER DELETE OR UPDATE OF login, name ON users
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER project_types_setup AFTER INSERT OR UPDATE OR DELETE ON project_types
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER versions_setup AFTER INSERT OR UPDATE OR DELETE ON versions
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER labels_setup AFTER INSERT OR UPDATE OR DELETE ON labels
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER components_setup AFTER INSERT OR UPDATE OR DELETE ON components
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
