-- Count each conversation's parts per pre-aggregated tag value (whole and per agent) on the local
-- day of their first message, as aggregate/part_starts.sql does per model; before tag_parts.
-- param tz: text
-- param prefix: text
WITH batch AS (
    SELECT t.organization_id, t.conversation_id, :prefix || t.tag_key AS dimension, t.tag_value AS value,
           '' AS agent_id, MIN(t.first_ts) AS first_ts
    FROM new_tag_days t
    GROUP BY t.organization_id, t.conversation_id, t.tag_key, t.tag_value
    UNION ALL
    SELECT t.organization_id, t.conversation_id, :prefix || t.tag_key, t.tag_value, t.agent_id, MIN(t.first_ts)
    FROM new_tag_days t
    GROUP BY t.organization_id, t.conversation_id, t.tag_key, t.tag_value, t.agent_id
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
