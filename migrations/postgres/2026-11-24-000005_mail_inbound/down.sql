DROP TABLE mail_failures;
DROP INDEX mail_received_item;
DROP TABLE mail_received;
