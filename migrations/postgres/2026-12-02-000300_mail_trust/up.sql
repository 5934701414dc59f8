-- The key that signs the reply addresses of notifications (src/mail/reply_address.rs),
-- made once here so that every node verifies what any node signed. gen_random_uuid draws
-- from the server's strong random source (PostgreSQL 13 or newer); two of them give 244
-- random bits.
CREATE TABLE signing_keys (
    purpose TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO signing_keys (purpose, secret)
    VALUES ('mail_reply', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- Stored mail is known per mailbox, by its key and a digest of its content: a different mail
-- reusing a Message-ID is a new mail, the same mail in another mailbox gets its own record.
-- Rows from before keep an empty digest, which matches any content, so mail stored before
-- the upgrade is still recognised and never stored again.
ALTER TABLE mail_received ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_received DROP CONSTRAINT mail_received_pkey;
ALTER TABLE mail_received ADD PRIMARY KEY (mailbox, message_key, content_digest);
CREATE INDEX mail_received_key ON mail_received (message_key);

-- Refusals likewise, per mailbox and content.
ALTER TABLE mail_failures ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_failures DROP CONSTRAINT mail_failures_message_key_key;
ALTER TABLE mail_failures ADD CONSTRAINT mail_failures_once UNIQUE (mailbox, message_key, content_digest);

-- How each polled mailbox fares, written by the master's poller, shown to operators.
CREATE TABLE mail_mailboxes (
    name TEXT PRIMARY KEY,
    last_success_at TIMESTAMP,
    last_failure_at TIMESTAMP,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);

-- Watches of users who can no longer read the item (removed from a private project, or the
-- project made private) end, as they now do at the moment access is lost.
DELETE FROM watchers
WHERE user_id NOT IN (SELECT id FROM users WHERE is_admin = TRUE)
  AND item_id NOT IN (
    SELECT items.id FROM items JOIN projects ON projects.id = items.project_id
    WHERE projects.is_public = TRUE
       OR EXISTS (SELECT 1 FROM memberships
                  WHERE memberships.project_id = items.project_id AND memberships.user_id = watchers.user_id)
  );
