-- Binary: psycopg then sends numbers and instants without formatting them as text.
COPY new_usage ({event_columns}, seq, agent_name, conversation_title) FROM STDIN (FORMAT BINARY)
