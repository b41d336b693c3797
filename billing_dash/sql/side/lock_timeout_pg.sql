-- Dropping a side stage's schema once its import has failed waits for no one: the import's own
-- transaction may still hold its tables until it rolls back, and the next import drops it then.
SET LOCAL lock_timeout = '1s'
