-- The events that may name their agent or conversation, read once for both: those at their
-- conversation's newest instant, at its newest instant with a title (giving one), or at their
-- agent's newest instant with a name (giving one). The instants come from the import's
-- conversation days; new_usage holds only the events the import stored by now.
WITH conversation AS (
    SELECT conversation_id, MAX(last_ts) AS ts, MAX(title_ts) AS title_ts
    FROM new_conversation_days
    GROUP BY conversation_id
),
agent AS (
    SELECT agent_id, MAX(name_ts) AS ts
    FROM new_conversation_days
    GROUP BY agent_id
)
INSERT INTO new_names (seq, conversation_id, agent_id, ts, agent_name, conversation_title, newest_ts, title_ts,
                       name_ts)
SELECT n.seq, n.conversation_id, n.agent_id, n.ts, n.agent_name, n.conversation_title, w.ts, w.title_ts, a.ts
-- CROSS JOIN: SQLite then reads the events once, looking each up in the indexes it builds on the
-- instants (otherwise it scanned all events once per instant); PostgreSQL hashes them alike.
FROM new_usage n
CROSS JOIN conversation w
CROSS JOIN agent a
WHERE w.conversation_id = n.conversation_id AND a.agent_id = n.agent_id
  AND (n.ts = w.ts
       OR (n.ts = w.title_ts AND n.conversation_title IS NOT NULL)
       OR (n.ts = a.ts AND n.agent_name IS NOT NULL))
