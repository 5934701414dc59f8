DROP INDEX items_updated;
DROP INDEX items_project_parent;
