-- Add the events just stored to each conversation's per-model parts (models.conversation_parts,
-- dimension 'model'), for the whole conversation (agent_id '') and per agent, widening their first
-- and last message times as conversation_totals does.
INSERT INTO conversation_parts (organization_id, conversation_id, dimension, value, agent_id, first_ts, last_ts,
                                total_tokens, cost, message_count)
SELECT u.organization_id, u.conversation_id, 'model', u.model, u.agent_id, u.first_ts, u.last_ts, u.total_tokens,
       u.cost, u.message_count
FROM (
    SELECT c.organization_id, c.conversation_id, c.model, '' AS agent_id, MIN(c.first_ts) AS first_ts,
           MAX(c.last_ts) AS last_ts, SUM(c.prompt_tokens + c.completion_tokens) AS total_tokens,
           SUM(c.cost) AS cost, SUM(c.message_count) AS message_count
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.model
    UNION ALL
    SELECT c.organization_id, c.conversation_id, c.model, c.agent_id, MIN(c.first_ts), MAX(c.last_ts),
           SUM(c.prompt_tokens + c.completion_tokens), SUM(c.cost), SUM(c.message_count)
    FROM new_conversation_days c
    GROUP BY c.organization_id, c.conversation_id, c.model, c.agent_id
) u
WHERE true
ORDER BY u.organization_id, u.conversation_id, u.model, u.agent_id
ON CONFLICT (organization_id, conversation_id, dimension, value, agent_id) DO UPDATE SET
    first_ts = CASE WHEN excluded.first_ts < conversation_parts.first_ts
                    THEN excluded.first_ts ELSE conversation_parts.first_ts END,
    last_ts = CASE WHEN excluded.last_ts > conversation_parts.last_ts
                   THEN excluded.last_ts ELSE conversation_parts.last_ts END,
    total_tokens = conversation_parts.total_tokens + excluded.total_tokens,
    cost = conversation_parts.cost + excluded.cost,
    message_count = conversation_parts.message_count + excluded.message_count
