DROP TABLE type_transitions;
ALTER TABLE item_types DROP COLUMN own_transitions;
DROP TABLE project_types;
