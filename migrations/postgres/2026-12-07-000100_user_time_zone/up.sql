-- The zone a user reads times in (an IANA name such as Europe/Berlin); none: the browser's.
ALTER TABLE users ADD COLUMN time_zone TEXT;
