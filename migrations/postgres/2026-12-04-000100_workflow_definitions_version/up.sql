-- The version of the field definitions (src/model/definitions.rs) covers the workflow too:
-- every change to item types, statuses, priorities and transitions gives it a new random
-- value, so a node keeps the workflow in memory and checks one row per use (each create and
-- status change read the five tables).
CREATE TRIGGER item_types_definitions AFTER INSERT OR UPDATE OR DELETE ON item_types
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER statuses_definitions AFTER INSERT OR UPDATE OR DELETE ON statuses
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER priorities_definitions AFTER INSERT OR UPDATE OR DELETE ON priorities
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER transitions_definitions AFTER INSERT OR UPDATE OR DELETE ON transitions
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
CREATE TRIGGER type_transitions_definitions AFTER INSERT OR UPDATE OR DELETE ON type_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION field_catalog_bump();
