-- A side stage holds its key's advisory lock for as long as it lives (for its session: the lock
-- goes with the connection if the import's process dies), so that others can tell its schema in
-- use. Shared, as the import's transaction holds it too (side/hold_pg); false while another
-- import is dropping a schema left under that key (side/orphan_pg).
-- param lock_class: int
-- param key: int
SELECT pg_try_advisory_lock_shared(:lock_class, :key)
