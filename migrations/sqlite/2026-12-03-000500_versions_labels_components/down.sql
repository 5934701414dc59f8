DROP INDEX items_component;
DROP INDEX items_target_version;
ALTER TABLE items DROP COLUMN component_id;
ALTER TABLE items DROP COLUMN target_version_id;
DROP TABLE components;
DROP TABLE item_labels;
DROP TABLE labels;
DROP TABLE versions;
