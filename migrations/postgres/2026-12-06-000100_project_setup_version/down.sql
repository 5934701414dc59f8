DROP TRIGGER projects_setup ON projects;
DROP TRIGGER memberships_setup ON memberships;
DROP TRIGGER users_setup ON users;
DROP TRIGGER project_types_setup ON project_types;
DROP TRIGGER versions_setup ON versions;
DROP TRIGGER labels_setup ON labels;
DROP TRIGGER components_setup ON components;
