-- Empty the grouped events (ids repeated in a large import: its side stage grouped them before the
-- repeats were dropped, see EventWriter.finish).
TRUNCATE new_usage_days, new_conversation_days, new_names, new_quarters
