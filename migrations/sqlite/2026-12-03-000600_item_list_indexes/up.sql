-- A project's sub-items, for the item list as a tree: its total subtracts the matches whose
-- parent matches too, found here instead of among all the project's items.
CREATE INDEX items_project_parent ON items (project_id, parent_id) WHERE parent_id IS NOT NULL;
-- The list across projects (the Items page, the home page), newest change first: walked in
-- order, with the status and project at hand, instead of sorting every open item.
CREATE INDEX items_updated ON items (updated_at, id, status_id, project_id);
