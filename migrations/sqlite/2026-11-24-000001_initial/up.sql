-- Accounts, sessions, tokens.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    email_notifications BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX login_failures_login ON login_failures(login, failed_at);
CREATE INDEX login_failures_address ON login_failures(address, failed_at);

-- Projects and who may do what in them.
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_public BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE memberships (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

-- Workflow vocabulary.
CREATE TABLE item_types (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL
);
CREATE TABLE statuses (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_closed BOOLEAN NOT NULL DEFAULT 0,
    position INTEGER NOT NULL
);
CREATE TABLE transitions (
    from_status_id BIGINT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
    to_status_id BIGINT NOT NULL REFERENCES statuses(id) ON DELETE CASCADE,
    PRIMARY KEY (from_status_id, to_status_id)
);
CREATE TABLE priorities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    position INTEGER NOT NULL
);

INSERT INTO item_types (id, name, position) VALUES (1, 'Bug', 1), (2, 'Feature', 2), (3, 'Task', 3), (4, 'Support', 4);
INSERT INTO statuses (id, name, is_closed, position) VALUES
    (1, 'New', 0, 1), (2, 'In progress', 0, 2), (3, 'Resolved', 0, 3), (4, 'Closed', 1, 4), (5, 'Rejected', 1, 5);
INSERT INTO transitions (from_status_id, to_status_id) VALUES
    (1, 2), (1, 3), (1, 5),
    (2, 1), (2, 3), (2, 5),
    (3, 2), (3, 4),
    (4, 2),
    (5, 1);
INSERT INTO priorities (id, name, position) VALUES (1, 'Low', 1), (2, 'Normal', 2), (3, 'High', 3), (4, 'Urgent', 4);

-- Items and everything hanging off them.
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    type_id BIGINT NOT NULL REFERENCES item_types(id),
    status_id BIGINT NOT NULL REFERENCES statuses(id),
    priority_id BIGINT NOT NULL REFERENCES priorities(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    reporter_id BIGINT NOT NULL REFERENCES users(id),
    assignee_id BIGINT REFERENCES users(id),
    due_date DATE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    version INTEGER NOT NULL DEFAULT 1
);
-- Serves a project's list newest first (ORDER BY updated_at, id); with status_id in it, the
-- open/closed filter and the rows skipped by offset never touch the table.
CREATE INDEX items_project_updated ON items(project_id, updated_at, id, status_id);
-- Lets list totals (project + open/closed + status) be counted from the index alone.
CREATE INDEX items_project_status ON items(project_id, status_id);
CREATE INDEX items_status ON items(status_id);
CREATE INDEX items_assignee ON items(assignee_id);
CREATE INDEX items_reporter ON items(reporter_id);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX comments_item ON comments(item_id, id);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    comment_id BIGINT REFERENCES comments(id) ON DELETE CASCADE,
    uploader_id BIGINT NOT NULL REFERENCES users(id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX attachments_item ON attachments(item_id);

CREATE TABLE watchers (
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX watchers_user ON watchers(user_id);

CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id),
    changed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX history_item ON history(item_id, id);

-- Changes search has not seen yet; drained by the master's indexer.
CREATE TABLE index_queue (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL,
    enqueued_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
