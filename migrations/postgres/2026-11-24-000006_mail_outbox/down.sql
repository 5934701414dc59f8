DROP INDEX mail_outbox_due;
DROP TABLE mail_outbox;
