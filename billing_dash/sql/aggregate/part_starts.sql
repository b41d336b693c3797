-- Count each conversation's per-model parts (whole, agent_id '', and per agent) on the local day of
-- their first message, as aggregate/starts.sql counts whole conversations. Runs before the parts
-- are updated: a part that gained an earlier first message moves from its stored first day. The
-- dimension joins as a column, not as a constant: a constant filter on a table not yet analyzed is
-- estimated at a few rows, and PostgreSQL then scanned every stored part once per key.
-- param tz: text
WITH batch AS (
    SELECT c.organization_id, c.conversation_id, 'model' AS dimension, c.model AS value, '' AS agent_id,
           MIN(c.first_ts) AS first_ts
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.model
    UNION ALL
    SELECT c.organization_id, c.conversation_id, 'model', c.model, c.agent_id, MIN(c.first_ts)
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.model, c.agent_id
)
INSERT INTO conversation_part_starts (organization_id, dimension, value, day, agent_id, started)
SELECT d.organization_id, d.dimension, d.value, d.day, d.agent_id, SUM(d.delta)
FROM (
    SELECT b.organization_id, b.dimension, b.value, local_date(b.first_ts, :tz) AS day, b.agent_id, 1 AS delta
    FROM batch b
    LEFT JOIN conversation_parts p
           ON p.organization_id = b.organization_id AND p.conversation_id = b.conversation_id
          AND p.dimension = b.dimension AND p.value = b.value AND p.agent_id = b.agent_id
    WHERE p.conversation_id IS NULL OR b.first_ts < p.first_ts
    UNION ALL
    SELECT p.organization_id, p.dimension, p.value, local_date(p.first_ts, :tz), p.agent_id, -1
    FROM batch b
    JOIN conversation_parts p
      ON p.organization_id = b.organization_id AND p.conversation_id = b.conversation_id
     AND p.dimension = b.dimension AND p.value = b.value AND p.agent_id = b.agent_id
    WHERE b.first_ts < p.first_ts
) d
WHERE true
GROUP BY d.organization_id, d.dimension, d.value, d.day, d.agent_id
ORDER BY d.organization_id, d.dimension, d.value, d.day, d.agent_id
ON CONFLICT (organization_id, dimension, value, day, agent_id) DO UPDATE SET
    started = conversation_part_starts.started + excluded.started
