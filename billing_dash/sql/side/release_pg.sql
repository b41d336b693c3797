-- The side stage is done: its key's advisory lock (side/claim_pg) goes before its connection
-- returns to the pool.
-- param lock_class: int
-- param key: int
SELECT pg_advisory_unlock_shared(:lock_class, :key)
