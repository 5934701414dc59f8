-- The version of the field definitions (src/model/definitions.rs) covers the workflow too:
-- every change to item types, statuses, priorities and transitions gives it a new random
-- value, so a node keeps the workflow in memory and checks one row per use (each create and
-- status change read the five tables).
CREATE TRIGGER item_types_definitions_insert AFTER INSERT ON item_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER item_types_definitions_update AFTER UPDATE ON item_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER item_types_definitions_delete AFTER DELETE ON item_types
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER statuses_definitions_insert AFTER INSERT ON statuses
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER statuses_definitions_update AFTER UPDATE ON statuses
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER statuses_definitions_delete AFTER DELETE ON statuses
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER priorities_definitions_insert AFTER INSERT ON priorities
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER priorities_definitions_update AFTER UPDATE ON priorities
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER priorities_definitions_delete AFTER DELETE ON priorities
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER transitions_definitions_insert AFTER INSERT ON transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER transitions_definitions_update AFTER UPDATE ON transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER transitions_definitions_delete AFTER DELETE ON transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER type_transitions_definitions_insert AFTER INSERT ON type_transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER type_transitions_definitions_update AFTER UPDATE ON type_transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
CREATE TRIGGER type_transitions_definitions_delete AFTER DELETE ON type_transitions
BEGIN UPDATE field_catalog_version SET version = random(); END;
