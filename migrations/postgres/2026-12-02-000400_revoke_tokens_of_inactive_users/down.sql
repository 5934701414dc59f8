-- Deleted tokens cannot come back (only their digests were stored); nothing to undo.
SELECT 1;
