-- Notifications to send, queued in the same transaction as the change that caused them and
-- sent by the master with retries; the text is rendered when the mail is sent.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    item_id BIGINT NOT NULL,
    recipient_id BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    event TEXT NOT NULL,
    comment_id BIGINT,
    changes TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT
);

CREATE INDEX mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);
