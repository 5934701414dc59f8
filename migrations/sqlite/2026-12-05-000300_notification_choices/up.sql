-- Each user's notification choices (src/model/notification/choices.rs): which items
-- (`notify_scope`: all of their projects', those they are involved in, or only mentions; no
-- mail at all stays `email_notifications = false`), which kinds of news (`notify_events`,
-- space-separated), whether their own changes too, and whether a mention makes them a
-- watcher. Expand-only: nodes of the previous release ignore the columns and mail as before
-- (the defaults are that behaviour).
ALTER TABLE users ADD COLUMN notify_scope TEXT NOT NULL DEFAULT 'involved'
    CHECK (notify_scope IN ('all', 'involved', 'mentions'));
ALTER TABLE users ADD COLUMN notify_events TEXT NOT NULL
    DEFAULT 'created commented status assigned updated mentioned linked';
ALTER TABLE users ADD COLUMN notify_own BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN watch_when_mentioned BOOLEAN NOT NULL DEFAULT FALSE;
