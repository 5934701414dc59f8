ALTER TABLE mail_outbox DROP COLUMN held;
ALTER TABLE users DROP COLUMN notify_digest;
