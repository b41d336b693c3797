-- The import's transaction holds its side stage's key too, until it ends: the side stage closes
-- before that transaction commits the drop of its schema, which must not look left behind meanwhile.
-- param lock_class: int
-- param key: int
SELECT pg_advisory_xact_lock_shared(:lock_class, :key)
