DROP INDEX items_project_parent;
