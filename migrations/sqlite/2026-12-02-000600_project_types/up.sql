-- Item types per project and status moves per item type (src/model/project/types.rs,
-- src/model/workflow.rs). A project with no project_types rows uses every item type, so
-- existing projects keep working; a type whose own_transitions is false follows the global
-- matrix (transitions), so existing items keep their moves. A type with its own matrix keeps
-- it in type_transitions, which may be empty (no move allowed for that type).
CREATE TABLE project_types (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    type_id BIGINT NOT NULL REFERENCES item_types(id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, type_id)
);

ALTER TABLE item_types ADD COLUMN own_transitions BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE type_transitions (
    type_id BIGINT NOT NULL REFERENCES item_types(id) ON DELETE CASCADE,
    from_status_id BIGINT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
    to_status_id BIGINT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
    PRIMARY KEY (type_id, from_status_id, to_status_id)
);
