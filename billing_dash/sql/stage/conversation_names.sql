-- Create the conversations of the events the import stored, and apply their owners and titles.
-- One rule, whatever the order events arrive in: a conversation's agent comes from its newest
-- stored event, its title from the newest stored event that gives one (by timestamp; of equal
-- timestamps the later one in the input, or of a later import). Only stored events count. The
-- candidates are in new_names (stage/name_events), each conversation's newest event among them.
-- param org_id: int
WITH picked AS (
    SELECT conversation_id,
           MAX(CASE WHEN ts = newest_ts THEN seq END) AS owner_seq,
           MAX(CASE WHEN ts = title_ts AND conversation_title IS NOT NULL THEN seq END) AS title_seq
    FROM new_names
    GROUP BY conversation_id
)
INSERT INTO conversations (organization_id, id, agent_id, agent_ts, title, title_ts)
SELECT :org_id, p.conversation_id, o.agent_id, o.ts, COALESCE(t.conversation_title, p.conversation_id), t.ts
FROM picked p
JOIN new_names o ON o.seq = p.owner_seq
LEFT JOIN new_names t ON t.seq = p.title_seq
WHERE true
-- Key order: concurrent imports lock shared rows in the same order and cannot deadlock.
ORDER BY p.conversation_id
ON CONFLICT (organization_id, id) DO UPDATE SET
    agent_id = CASE WHEN conversations.agent_ts IS NULL OR excluded.agent_ts >= conversations.agent_ts
                    THEN excluded.agent_id ELSE conversations.agent_id END,
    agent_ts = CASE WHEN conversations.agent_ts IS NULL OR excluded.agent_ts >= conversations.agent_ts
                    THEN excluded.agent_ts ELSE conversations.agent_ts END,
    title = CASE WHEN excluded.title_ts IS NOT NULL
                      AND (conversations.title_ts IS NULL OR excluded.title_ts >= conversations.title_ts)
                 THEN excluded.title ELSE conversations.title END,
    title_ts = CASE WHEN excluded.title_ts IS NOT NULL
                         AND (conversations.title_ts IS NULL OR excluded.title_ts >= conversations.title_ts)
                    THEN excluded.title_ts ELSE conversations.title_ts END
-- Unchanged rows are skipped: each would cost PostgreSQL a dead row version.
WHERE conversations.agent_ts IS NULL OR excluded.agent_ts >= conversations.agent_ts
   OR (excluded.title_ts IS NOT NULL
       AND (conversations.title_ts IS NULL OR excluded.title_ts >= conversations.title_ts))
