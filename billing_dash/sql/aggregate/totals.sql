-- Add the events just stored to each conversation's totals, for the whole conversation (agent_id
-- '') and per agent, widening its first and last message times; returns the new spans.
-- column first_ts: utc
-- column last_ts: utc
INSERT INTO conversation_totals (organization_id, conversation_id, agent_id, first_ts, last_ts, total_tokens,
                                 cost, message_count)
SELECT u.organization_id, u.conversation_id, u.agent_id, u.first_ts, u.last_ts, u.total_tokens, u.cost,
       u.message_count
FROM (
    SELECT n.organization_id, n.conversation_id, '' AS agent_id, MIN(n.ts) AS first_ts, MAX(n.ts) AS last_ts,
           SUM(n.prompt_tokens + n.completion_tokens) AS total_tokens, SUM(n.cost) AS cost,
           COUNT(*) AS message_count
    FROM new_usage n
    GROUP BY n.organization_id, n.conversation_id
    UNION ALL
    SELECT n.organization_id, n.conversation_id, n.agent_id, MIN(n.ts), MAX(n.ts),
           SUM(n.prompt_tokens + n.completion_tokens), SUM(n.cost), COUNT(*)
    FROM new_usage n
    GROUP BY n.organization_id, n.conversation_id, n.agent_id
) u
WHERE true
ORDER BY u.organization_id, u.conversation_id, u.agent_id
ON CONFLICT (organization_id, conversation_id, agent_id) DO UPDATE SET
    first_ts = CASE WHEN excluded.first_ts < conversation_totals.first_ts
                    THEN excluded.first_ts ELSE conversation_totals.first_ts END,
    last_ts = CASE WHEN excluded.last_ts > conversation_totals.last_ts
                   THEN excluded.last_ts ELSE conversation_totals.last_ts END,
    total_tokens = conversation_totals.total_tokens + excluded.total_tokens,
    cost = conversation_totals.cost + excluded.cost,
    message_count = conversation_totals.message_count + excluded.message_count
RETURNING first_ts, last_ts
