-- Create the agents of the events the import stored, and apply their names. One rule, whatever
-- the order events arrive in: an agent's name comes from its newest stored event (by timestamp;
-- of equal timestamps the later one in the input, or of a later import) that gives one; an agent
-- without one is only created, named by its id. Only stored events count, so a re-sent or skipped
-- event can never rename anything. Hash joins and groups only (a position, seq, is unique in an
-- import): a sort of all the import's events would cost more than the rest of this. Unless
-- :all_rows, only the events that may name (names_it: the newest of their batch to name their
-- agent or conversation) are read: while every staged event was stored, no other can win.
-- param org_id: int
-- param all_rows: int
WITH staged AS (
    -- Read once (both databases keep a query used three times), so the rest joins a few rows.
    SELECT seq, agent_id, ts, agent_name
    FROM new_usage
    WHERE :all_rows = 1 OR names_it
),
newest AS (
    SELECT agent_id, MAX(CASE WHEN agent_name IS NOT NULL THEN ts END) AS ts
    FROM staged
    GROUP BY agent_id
),
picked AS (
    SELECT w.agent_id, MAX(CASE WHEN n.ts = w.ts AND n.agent_name IS NOT NULL THEN n.seq END) AS seq
    -- CROSS JOIN: SQLite then reads the events once, looking each up in an index it builds on
    -- newest (otherwise it scanned all events once per newest row); PostgreSQL hashes it alike.
    FROM staged n
    CROSS JOIN newest w
    WHERE w.agent_id = n.agent_id
    GROUP BY w.agent_id
)
INSERT INTO agents (organization_id, id, name, name_ts)
SELECT :org_id, p.agent_id, COALESCE(m.agent_name, p.agent_id), m.ts
FROM picked p
LEFT JOIN staged m ON m.seq = p.seq
WHERE true
-- Key order: concurrent imports lock shared rows in the same order and cannot deadlock.
ORDER BY p.agent_id
-- Rows without a name only make sure the agent exists; the WHERE skips unchanged rows, which
-- would otherwise cost PostgreSQL a dead row version each.
ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, name_ts = excluded.name_ts
WHERE excluded.name_ts IS NOT NULL AND (agents.name_ts IS NULL OR excluded.name_ts >= agents.name_ts)
