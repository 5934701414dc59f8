-- Ended watches are not restored. Of several records of one key, the oldest is kept.
DROP TABLE mail_mailboxes;

DELETE FROM mail_failures WHERE id NOT IN (SELECT MIN(id) FROM mail_failures GROUP BY message_key);
ALTER TABLE mail_failures DROP CONSTRAINT mail_failures_once;
ALTER TABLE mail_failures DROP COLUMN content_digest;
ALTER TABLE mail_failures ADD UNIQUE (message_key);

DELETE FROM mail_received a USING mail_received b
    WHERE a.message_key = b.message_key
      AND (a.received_at, a.mailbox, a.content_digest) > (b.received_at, b.mailbox, b.content_digest);
DROP INDEX mail_received_key;
ALTER TABLE mail_received DROP CONSTRAINT mail_received_pkey;
ALTER TABLE mail_received DROP COLUMN content_digest;
ALTER TABLE mail_received ADD PRIMARY KEY (message_key);

DROP TABLE signing_keys;
