-- Edited, deleted and private comments (src/model/comment.rs). A private note is for the
-- project's developers and managers only. An edit keeps the text it replaces in
-- comment_versions, with who wrote that text and when; a deletion empties the body, keeps the
-- marker (who deleted it, when) and drops the earlier versions. Expand-only: nodes of the
-- previous release insert comments without these columns and show a deleted comment's empty
-- body (and a private note to everyone who reads the item: upgrade every node before private
-- notes are written). edited_by and deleted_by have no foreign key (SQLite could not drop the columns
-- again); users are deactivated, never deleted.
ALTER TABLE comments ADD COLUMN edited_at TIMESTAMP;
ALTER TABLE comments ADD COLUMN edited_by BIGINT;
ALTER TABLE comments ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE comments ADD COLUMN deleted_by BIGINT;
ALTER TABLE comments ADD COLUMN private BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE comment_versions (
    id INTEGER PRIMARY KEY,
    comment_id BIGINT NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    written_by BIGINT NOT NULL REFERENCES users(id),
    written_at TIMESTAMP NOT NULL
);
CREATE INDEX comment_versions_comment ON comment_versions(comment_id, id);
