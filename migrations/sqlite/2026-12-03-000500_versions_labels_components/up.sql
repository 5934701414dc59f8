-- Versions, labels and components of a project (src/model/version.rs, label.rs,
-- component.rs). Names are unique per project without regard to case: `name_key` is the name
-- lower-cased by the model, the same on both backends. Expand-only: nodes of the previous
-- release neither read nor write these tables or columns. The items' columns have no foreign
-- key (SQLite could not drop them again); the model checks them when they are set and clears
-- them when what they name goes.
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    due_date DATE,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'locked', 'closed')),
    shared BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX versions_name ON versions(project_id, name_key);
CREATE INDEX versions_shared ON versions(shared) WHERE shared;

CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    color TEXT NOT NULL CHECK (length(color) = 7)
);
CREATE UNIQUE INDEX labels_name ON labels(project_id, name_key);

CREATE TABLE item_labels (
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    label_id BIGINT NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, label_id)
) WITHOUT ROWID;
CREATE INDEX item_labels_label ON item_labels(label_id, item_id);

CREATE TABLE components (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    default_assignee_id BIGINT REFERENCES users(id)
);
CREATE UNIQUE INDEX components_name ON components(project_id, name_key);

ALTER TABLE items ADD COLUMN target_version_id BIGINT;
ALTER TABLE items ADD COLUMN component_id BIGINT;
-- Covers the roadmap: its counts per version and status, and each version's first items by
-- status and priority, are read from this index alone.
CREATE INDEX items_target_version ON items(target_version_id, project_id, status_id, priority_id)
    WHERE target_version_id IS NOT NULL;
CREATE INDEX items_component ON items(component_id) WHERE component_id IS NOT NULL;
