-- The side stage's events: unlogged, as a temporary table is (nothing to recover after a crash),
-- but readable by the import's transaction and PostgreSQL's other processes. In the schema first
-- in search_path (side/search_path_pg); the columns as stage/create_pg's.
CREATE UNLOGGED TABLE new_usage (LIKE public.usage_events, seq int8, agent_name text, conversation_title text)
