-- Every inbound mail that was stored, by its key (Message-ID, or "sha256:" and the hash of
-- the raw message when it has none). The row commits with the item or comment it produced,
-- so a mail processed again after a crash is recognised and not stored twice.
CREATE TABLE mail_received (
    message_key TEXT PRIMARY KEY,
    mailbox TEXT NOT NULL,
    item_id BIGINT NOT NULL,
    comment_id BIGINT,
    received_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX mail_received_item ON mail_received (item_id);

-- Mail that could not be stored, with the reason, for administrators to look at and
-- reprocess. The raw message is kept in the file store when it was fetched.
CREATE TABLE mail_failures (
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
