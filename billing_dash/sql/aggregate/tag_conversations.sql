-- Add the events just stored to the per tag value, day (of the organization's zone), conversation,
-- agent and model aggregates: the conversation figures of a tag filter. new_tag_days has one row
-- per such key already.
INSERT INTO tag_conversation_daily (organization_id, tag_key, tag_value, day, conversation_id, agent_id, model,
                                    total_tokens, cost, message_count)
SELECT d.organization_id, d.tag_key, d.tag_value, d.day, d.conversation_id, d.agent_id, d.model,
       d.prompt_tokens + d.completion_tokens, d.cost, d.message_count
FROM new_tag_days d
WHERE true
ORDER BY d.organization_id, d.tag_key, d.tag_value, d.day, d.conversation_id, d.agent_id, d.model
ON CONFLICT (organization_id, tag_key, tag_value, day, conversation_id, agent_id, model) DO UPDATE SET
    total_tokens = tag_conversation_daily.total_tokens + excluded.total_tokens,
    cost = tag_conversation_daily.cost + excluded.cost,
    message_count = tag_conversation_daily.message_count + excluded.message_count
