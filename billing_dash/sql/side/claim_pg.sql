-- A side stage holds its key's advisory lock for as long as it lives (for its session: the lock
-- goes with the connection if the import's process dies), so that others can tell its schema in use.
-- param lock_class: int
-- param key: int
SELECT pg_try_advisory_lock(:lock_class, :key)
