-- Text format: rows formatted by the import's worker processes (aggregates.copy_text).
COPY new_usage ({event_columns}, seq, agent_name, conversation_title) FROM STDIN
