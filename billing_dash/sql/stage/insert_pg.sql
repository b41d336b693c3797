-- Store the batch; of the batch, only the events really inserted stay in new_usage. RETURNING
-- only the ids: the rows themselves are already there.
WITH ins AS (
    INSERT INTO usage_events SELECT * FROM new_usage ORDER BY event_id
    ON CONFLICT DO NOTHING RETURNING event_id
)
DELETE FROM new_usage n WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.event_id = n.event_id)
