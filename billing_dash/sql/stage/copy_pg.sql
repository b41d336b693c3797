-- Binary: psycopg then sends numbers and instants without formatting them as text.
COPY new_usage ({event_columns}) FROM STDIN (FORMAT BINARY)
