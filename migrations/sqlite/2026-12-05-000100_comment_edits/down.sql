DROP TABLE comment_versions;
ALTER TABLE comments DROP COLUMN private;
ALTER TABLE comments DROP COLUMN deleted_by;
ALTER TABLE comments DROP COLUMN deleted_at;
ALTER TABLE comments DROP COLUMN edited_by;
ALTER TABLE comments DROP COLUMN edited_at;
