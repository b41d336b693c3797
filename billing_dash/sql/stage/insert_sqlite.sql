-- Store the events of the batch not stored before (drop_stored_sqlite left only those).
INSERT INTO usage_events ({event_columns}) SELECT {event_columns} FROM batch_usage
