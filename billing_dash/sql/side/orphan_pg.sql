-- Whether a side stage's schema is left behind: nobody holds its key's lock, neither its side
-- stage nor its import's transaction. Taken until this transaction ends, so that the schema is
-- dropped before another stage could claim the key.
-- param lock_class: int
-- param key: int
SELECT pg_try_advisory_xact_lock(:lock_class, :key)
