-- Store the batch; the events really inserted (not stored before) join new_usage with their
-- positions and names. RETURNING only the ids: the rows themselves are in batch_usage.
WITH ins AS (
    INSERT INTO usage_events ({event_columns}) SELECT {event_columns} FROM batch_usage ORDER BY event_id
    ON CONFLICT DO NOTHING RETURNING event_id
)
INSERT INTO new_usage SELECT b.* FROM batch_usage b JOIN ins ON ins.event_id = b.event_id
