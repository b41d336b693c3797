-- The import's staging table (SQLite creates it from aggregates.new_table, for its type conversions).
CREATE TEMP TABLE IF NOT EXISTS new_usage (LIKE usage_events) ON COMMIT DROP
