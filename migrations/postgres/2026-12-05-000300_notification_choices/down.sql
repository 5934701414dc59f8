ALTER TABLE users DROP COLUMN watch_when_mentioned;
ALTER TABLE users DROP COLUMN notify_own;
ALTER TABLE users DROP COLUMN notify_events;
ALTER TABLE users DROP COLUMN notify_scope;
