-- Add the events just stored to the per-day (in the organization's zone) conversation aggregates.
INSERT INTO conversation_daily (organization_id, day, conversation_id, agent_id, model, total_tokens, cost,
                                message_count)
SELECT c.organization_id, c.day, c.conversation_id, c.agent_id, c.model, c.prompt_tokens + c.completion_tokens,
       c.cost, c.message_count
FROM new_conversation_days c
WHERE true
ORDER BY c.organization_id, c.day, c.conversation_id, c.agent_id, c.model
ON CONFLICT (organization_id, day, conversation_id, agent_id, model) DO UPDATE SET
    total_tokens = conversation_daily.total_tokens + excluded.total_tokens,
    cost = conversation_daily.cost + excluded.cost,
    message_count = conversation_daily.message_count + excluded.message_count
