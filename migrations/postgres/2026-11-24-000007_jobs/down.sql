DROP INDEX mail_received_at;
DROP TABLE job_runs;
