-- A small import finds the stored rows of its conversations by index lookups, one per key: without
-- statistics for the staging tables (and pricing a lookup as a read from disk) PostgreSQL would
-- rather hash all of conversation_totals, every organization's, for a few hundred keys (an OTLP
-- export into a database of 1M events spent 21 of its 46 ms of statements there; at 10M the table
-- is large enough that it looks the keys up).
SELECT set_config(name, 'off', true) FROM pg_settings WHERE name IN ('enable_hashjoin', 'enable_mergejoin')
