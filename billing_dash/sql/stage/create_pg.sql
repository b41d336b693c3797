-- The events an import stored, with their positions and names, until they reach the aggregates
-- (SQLite creates it from aggregates.new_table, for its type conversions).
CREATE TEMP TABLE IF NOT EXISTS new_usage (LIKE usage_events, seq int8, agent_name text, conversation_title text)
ON COMMIT DROP
