-- Add the events just stored to each conversation's totals, for the whole conversation (agent_id
-- '') and per agent, widening its first and last message times; returns the new spans.
-- column first_ts: utc
-- column last_ts: utc
INSERT INTO conversation_totals (organization_id, conversation_id, agent_id, first_ts, last_ts, total_tokens,
                                 cost, message_count)
SELECT u.organization_id, u.conversation_id, u.agent_id, u.first_ts, u.last_ts, u.total_tokens, u.cost,
       u.message_count
FROM (
    SELECT c.organization_id, c.conversation_id, '' AS agent_id, MIN(c.first_ts) AS first_ts,
           MAX(c.last_ts) AS last_ts, SUM(c.prompt_tokens + c.completion_tokens) AS total_tokens,
           SUM(c.cost) AS cost, SUM(c.message_count) AS message_count
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id
    UNION ALL
    SELECT c.organization_id, c.conversation_id, c.agent_id, MIN(c.first_ts), MAX(c.last_ts),
           SUM(c.prompt_tokens + c.completion_tokens), SUM(c.cost), SUM(c.message_count)
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.agent_id
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
