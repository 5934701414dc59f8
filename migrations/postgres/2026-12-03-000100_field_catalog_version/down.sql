DROP TRIGGER fields_catalog ON fields;
DROP TRIGGER field_choices_catalog ON field_choices;
DROP TRIGGER field_projects_catalog ON field_projects;
DROP TRIGGER field_types_catalog ON field_types;
DROP TRIGGER projects_catalog_key ON projects;
DROP FUNCTION field_catalog_bump();
DROP TABLE field_catalog_version;
