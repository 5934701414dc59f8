DROP TABLE item_values;
DROP TABLE field_types;
DROP TABLE field_projects;
DROP TABLE field_choices;
DROP TABLE fields;
