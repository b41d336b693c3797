-- Count each conversation (whole, agent_id '', and per agent) on the local day of its first
-- message. Runs before the totals are updated: a conversation that gained an earlier first
-- message moves from its stored first day to the new one.
-- param tz: text
WITH batch AS (
    SELECT c.organization_id, c.conversation_id, '' AS agent_id, MIN(c.first_ts) AS first_ts
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id
    UNION ALL
    SELECT c.organization_id, c.conversation_id, c.agent_id, MIN(c.first_ts)
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.agent_id
)
INSERT INTO conversation_starts (organization_id, day, agent_id, started)
SELECT d.organization_id, d.day, d.agent_id, SUM(d.delta)
FROM (
    SELECT b.organization_id, local_date(b.first_ts, :tz) AS day, b.agent_id, 1 AS delta
    FROM batch b
    LEFT JOIN conversation_totals t
           ON t.organization_id = b.organization_id AND t.conversation_id = b.conversation_id
          AND t.agent_id = b.agent_id
    WHERE t.conversation_id IS NULL OR b.first_ts < t.first_ts
    UNION ALL
    SELECT t.organization_id, local_date(t.first_ts, :tz), t.agent_id, -1
    FROM batch b
    JOIN conversation_totals t
      ON t.organization_id = b.organization_id AND t.conversation_id = b.conversation_id
     AND t.agent_id = b.agent_id
    WHERE b.first_ts < t.first_ts
) d
WHERE true
GROUP BY d.organization_id, d.day, d.agent_id
ORDER BY d.organization_id, d.day, d.agent_id
ON CONFLICT (organization_id, day, agent_id) DO UPDATE SET
    started = conversation_starts.started + excluded.started
