DROP INDEX items_project_status_kinds;
CREATE INDEX items_project_status ON items(project_id, status_id);
DROP INDEX items_reporter_updated;
DROP INDEX items_assignee_updated;
CREATE INDEX items_assignee ON items(assignee_id);
CREATE INDEX items_reporter ON items(reporter_id);
