DROP TRIGGER item_types_definitions ON item_types;
DROP TRIGGER statuses_definitions ON statuses;
DROP TRIGGER priorities_definitions ON priorities;
DROP TRIGGER transitions_definitions ON transitions;
DROP TRIGGER type_transitions_definitions ON type_transitions;
