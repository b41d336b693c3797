-- Create the agents of the events the import stored, and apply their names. One rule, whatever
-- the order events arrive in: an agent's name comes from its newest stored event (by timestamp;
-- of equal timestamps the later one in the input, or of a later import) that gives one; an agent
-- without one is only created, named by its id. Only stored events count, so a re-sent or skipped
-- event can never rename anything. The candidates are in new_names (stage/name_events).
-- param org_id: int
WITH picked AS (
    SELECT agent_id, MAX(seq) AS seq
    FROM new_names
    WHERE ts = name_ts AND agent_name IS NOT NULL
    GROUP BY agent_id
)
INSERT INTO agents (organization_id, id, name, name_ts)
SELECT :org_id, a.agent_id, COALESCE(m.agent_name, a.agent_id), m.ts
-- Every agent of the import, named or not: from its smallest grain.
FROM (SELECT DISTINCT agent_id FROM new_usage_days) a
LEFT JOIN picked p ON p.agent_id = a.agent_id
LEFT JOIN new_names m ON m.seq = p.seq
WHERE true
-- Key order: concurrent imports lock shared rows in the same order and cannot deadlock.
ORDER BY a.agent_id
-- Rows without a name only make sure the agent exists; the WHERE skips unchanged rows, which
-- would otherwise cost PostgreSQL a dead row version each.
ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, name_ts = excluded.name_ts
WHERE excluded.name_ts IS NOT NULL AND (agents.name_ts IS NULL OR excluded.name_ts >= agents.name_ts)
