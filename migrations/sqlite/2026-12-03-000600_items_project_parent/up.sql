-- A project's sub-items, for the item list as a tree: its total subtracts the matches whose
-- parent matches too, found here instead of among all the project's items.
CREATE INDEX items_project_parent ON items (project_id, parent_id) WHERE parent_id IS NOT NULL;
