-- Ended watches are not restored. Of several records of one key, one is kept.
DROP TABLE mail_mailboxes;

CREATE TABLE mail_failures_by_key (
    id INTEGER PRIMARY KEY,
    message_key TEXT NOT NULL UNIQUE,
    mailbox TEXT NOT NULL,
    sender TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    raw_sha256 TEXT,
    raw_size BIGINT NOT NULL,
    failed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT OR IGNORE INTO mail_failures_by_key (id, message_key, mailbox, sender, subject, reason, raw_sha256, raw_size, failed_at)
    SELECT id, message_key, mailbox, sender, subject, reason, raw_sha256, raw_size, failed_at FROM mail_failures ORDER BY id;
DROP TABLE mail_failures;
ALTER TABLE mail_failures_by_key RENAME TO mail_failures;

CREATE TABLE mail_received_by_key (
    message_key TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    item_id BIGINT NOT NULL,
    comment_id BIGINT,
    received_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT OR IGNORE INTO mail_received_by_key (message_key, mailbox, item_id, comment_id, received_at)
    SELECT message_key, mailbox, item_id, comment_id, received_at FROM mail_received ORDER BY received_at;
DROP TABLE mail_received;
ALTER TABLE mail_received_by_key RENAME TO mail_received;
CREATE INDEX mail_received_item ON mail_received (item_id);
CREATE INDEX mail_received_at ON mail_received (received_at);

DROP TABLE signing_keys;
