-- Add the events just stored to the per tag value, day (of the organization's zone), conversation
-- and agent aggregates: the conversation figures of a tag filter.
INSERT INTO tag_conversation_daily (organization_id, tag_key, tag_value, day, conversation_id, agent_id,
                                    total_tokens, cost, message_count)
SELECT d.organization_id, d.tag_key, d.tag_value, d.day, d.conversation_id, d.agent_id,
       SUM(d.prompt_tokens + d.completion_tokens), SUM(d.cost), SUM(d.message_count)
FROM new_tag_days d
WHERE true
GROUP BY d.organization_id, d.tag_key, d.tag_value, d.day, d.conversation_id, d.agent_id
ORDER BY d.organization_id, d.tag_key, d.tag_value, d.day, d.conversation_id, d.agent_id
ON CONFLICT (organization_id, tag_key, tag_value, day, conversation_id, agent_id) DO UPDATE SET
    total_tokens = tag_conversation_daily.total_tokens + excluded.total_tokens,
    cost = tag_conversation_daily.cost + excluded.cost,
    message_count = tag_conversation_daily.message_count + excluded.message_count
