-- Add the events just stored to each conversation's parts per pre-aggregated tag value
-- (models.conversation_parts, dimension :prefix || key, the filter's parameter), for the whole
-- conversation (agent_id '') and per agent, as aggregate/parts.sql does per model.
-- param prefix: text
INSERT INTO conversation_parts (organization_id, conversation_id, dimension, value, agent_id, first_ts, last_ts,
                                total_tokens, cost, message_count)
SELECT u.organization_id, u.conversation_id, :prefix || u.tag_key, u.tag_value, u.agent_id, u.first_ts, u.last_ts,
       u.total_tokens, u.cost, u.message_count
FROM (
    SELECT t.organization_id, t.conversation_id, t.tag_key, t.tag_value, '' AS agent_id, MIN(t.first_ts) AS first_ts,
           MAX(t.last_ts) AS last_ts, SUM(t.prompt_tokens + t.completion_tokens) AS total_tokens, SUM(t.cost) AS cost,
           SUM(t.message_count) AS message_count
    FROM new_tag_days t
    GROUP BY t.organization_id, t.conversation_id, t.tag_key, t.tag_value
    UNION ALL
    SELECT t.organization_id, t.conversation_id, t.tag_key, t.tag_value, t.agent_id, MIN(t.first_ts),
           MAX(t.last_ts), SUM(t.prompt_tokens + t.completion_tokens), SUM(t.cost), SUM(t.message_count)
    FROM new_tag_days t
    GROUP BY t.organization_id, t.conversation_id, t.tag_key, t.tag_value, t.agent_id
) u
WHERE true
ORDER BY u.organization_id, u.conversation_id, u.tag_key, u.tag_value, u.agent_id
ON CONFLICT (organization_id, conversation_id, dimension, value, agent_id) DO UPDATE SET
    first_ts = CASE WHEN excluded.first_ts < conversation_parts.first_ts
                    THEN excluded.first_ts ELSE conversation_parts.first_ts END,
    last_ts = CASE WHEN excluded.last_ts > conversation_parts.last_ts
                   THEN excluded.last_ts ELSE conversation_parts.last_ts END,
    total_tokens = conversation_parts.total_tokens + excluded.total_tokens,
    cost = conversation_parts.cost + excluded.cost,
    message_count = conversation_parts.message_count + excluded.message_count
