-- One batch of an import on its way to usage_events (SQLite creates it from aggregates.batch_table).
CREATE TEMP TABLE IF NOT EXISTS batch_usage (LIKE usage_events, seq int8, agent_name text, conversation_title text)
ON COMMIT DROP
