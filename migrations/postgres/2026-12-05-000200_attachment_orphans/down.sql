DROP TABLE attachment_orphans;
