-- Add the events just stored to the per tag value, day (of the organization's zone), conversation,
-- agent and model aggregates: the conversation figures of a tag filter. Grouped from the staged events
-- directly (new_tag_days keeps no conversation); only for an organization with tag keys.
-- param tz: text
INSERT INTO tag_conversation_daily (organization_id, tag_key, tag_value, day, conversation_id, agent_id, model,
                                    total_tokens, cost, message_count)
SELECT e.organization_id, e.tag_key, e.tag_value, e.day, e.conversation_id, e.agent_id, e.model,
       SUM(e.total_tokens), SUM(e.cost), COUNT(*)
FROM (
    SELECT n.organization_id, k.tag_key, tag_value(n.tags, k.tag_key) AS tag_value, local_date(n.ts, :tz) AS day,
           n.conversation_id, n.agent_id, n.model, n.prompt_tokens + n.completion_tokens AS total_tokens, n.cost
    FROM new_usage n
    JOIN tag_keys k ON k.organization_id = n.organization_id
    WHERE n.tags IS NOT NULL
) e
WHERE e.tag_value IS NOT NULL
GROUP BY e.organization_id, e.tag_key, e.tag_value, e.day, e.conversation_id, e.agent_id, e.model
ORDER BY e.organization_id, e.tag_key, e.tag_value, e.day, e.conversation_id, e.agent_id, e.model
ON CONFLICT (organization_id, tag_key, tag_value, day, conversation_id, agent_id, model) DO UPDATE SET
    total_tokens = tag_conversation_daily.total_tokens + excluded.total_tokens,
    cost = tag_conversation_daily.cost + excluded.cost,
    message_count = tag_conversation_daily.message_count + excluded.message_count
