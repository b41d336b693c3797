-- Create the agents of the events the import stored, and apply their names. One rule, whatever
-- the order events arrive in: an agent's name comes from its newest stored event (by timestamp;
-- of equal timestamps the later one in the input, or of a later import) that gives one; an agent
-- without one is only created, named by its id. Only stored events count (new_usage holds only
-- those by now), so a re-sent or skipped event can never rename anything. The newest instants
-- come from the import's conversation days, so the events are read once, for the few at those
-- instants: hash joins and groups only, no sort of all the import's events.
-- param org_id: int
WITH newest AS (
    SELECT agent_id, MAX(name_ts) AS ts
    FROM new_conversation_days
    GROUP BY agent_id
),
named AS (
    -- Used twice: both databases keep it rather than read the events again.
    SELECT n.seq, n.agent_id, n.ts, n.agent_name
    -- CROSS JOIN: SQLite then reads the events once, looking each up in an index it builds on
    -- newest (otherwise it scanned all events once per newest row); PostgreSQL hashes it alike.
    FROM new_usage n
    CROSS JOIN newest w
    WHERE w.agent_id = n.agent_id AND n.ts = w.ts AND n.agent_name IS NOT NULL
),
picked AS (
    SELECT agent_id, MAX(seq) AS seq
    FROM named
    GROUP BY agent_id
)
INSERT INTO agents (organization_id, id, name, name_ts)
SELECT :org_id, w.agent_id, COALESCE(m.agent_name, w.agent_id), m.ts
FROM newest w
LEFT JOIN picked p ON p.agent_id = w.agent_id
LEFT JOIN named m ON m.seq = p.seq
WHERE true
-- Key order: concurrent imports lock shared rows in the same order and cannot deadlock.
ORDER BY w.agent_id
-- Rows without a name only make sure the agent exists; the WHERE skips unchanged rows, which
-- would otherwise cost PostgreSQL a dead row version each.
ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, name_ts = excluded.name_ts
WHERE excluded.name_ts IS NOT NULL AND (agents.name_ts IS NULL OR excluded.name_ts >= agents.name_ts)
