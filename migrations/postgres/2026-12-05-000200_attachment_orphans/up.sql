-- Files of deleted items' attachments (src/model/item/deletion.rs). The prune job removes a
-- file from the shared path once its grace period has passed and no attachment names its
-- content any more; an upload of the same content deletes the row first, in its own
-- transaction, so that the two never cross (src/model/attachment.rs). Expand-only.
CREATE TABLE attachment_orphans (
    sha256 TEXT PRIMARY KEY,
    orphaned_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
