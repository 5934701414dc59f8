-- The key that signs the reply addresses of notifications (src/mail/reply_address.rs),
-- made once here so that every node verifies what any node signed. randomblob draws from
-- SQLite's ChaCha20 generator, seeded by the operating system.
CREATE TABLE signing_keys (
    purpose TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO signing_keys (purpose, secret) VALUES ('mail_reply', lower(hex(randomblob(32))));

-- Stored mail is known per mailbox, by its key and a digest of its content: a different mail
-- reusing a Message-ID is a new mail, the same mail in another mailbox gets its own record.
-- Rows from before keep an empty digest, which matches any content, so mail stored before
-- the upgrade is still recognised and never stored again.
CREATE TABLE mail_received_by_mailbox (
    message_key TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    item_id BIGINT NOT NULL,
    comment_id BIGINT,
    received_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    content_digest TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (mailbox, message_key, content_digest)
);
INSERT INTO mail_received_by_mailbox (message_key, mailbox, item_id, comment_id, received_at)
    SELECT message_key, mailbox, item_id, comment_id, received_at FROM mail_received;
DROP TABLE mail_received;
ALTER TABLE mail_received_by_mailbox RENAME TO mail_received;
CREATE INDEX mail_received_key ON mail_received (message_key);
CREATE INDEX mail_received_item ON mail_received (item_id);
CREATE INDEX mail_received_at ON mail_received (received_at);

-- Refusals likewise, per mailbox and content.
CREATE TABLE mail_failures_by_mailbox (
    id INTEGER PRIMARY KEY,
    message_key TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    raw_sha256 TEXT,
    raw_size BIGINT NOT NULL,
    failed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    content_digest TEXT NOT NULL DEFAULT '',
    UNIQUE (mailbox, message_key, content_digest)
);
INSERT INTO mail_failures_by_mailbox (id, message_key, mailbox, sender, subject, reason, raw_sha256, raw_size, failed_at)
    SELECT id, message_key, mailbox, sender, subject, reason, raw_sha256, raw_size, failed_at FROM mail_failures;
DROP TABLE mail_failures;
ALTER TABLE mail_failures_by_mailbox RENAME TO mail_failures;

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
