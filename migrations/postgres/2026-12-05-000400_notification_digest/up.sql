-- A daily digest instead of single mails (src/model/notification.rs): a user who chose it
-- (`notify_digest`) has their news queued as held rows, which the sender leaves alone; the
-- notification_digest job gathers each user's held rows into one digest mail. Expand-only:
-- nodes of the previous release ignore the columns (an old master would mail held rows one
-- by one, as before the choice existed).
ALTER TABLE users ADD COLUMN notify_digest BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE mail_outbox ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
