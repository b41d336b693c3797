-- Add the events just stored to the per-day (in the organization's zone) conversation aggregates.
-- param tz: text
INSERT INTO conversation_daily (organization_id, day, conversation_id, agent_id, total_tokens, cost, message_count)
SELECT n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id,
       SUM(n.prompt_tokens + n.completion_tokens), SUM(n.cost), COUNT(*)
FROM new_usage n
WHERE true
GROUP BY n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id
ORDER BY n.organization_id, local_date(n.ts, :tz), n.conversation_id, n.agent_id
ON CONFLICT (organization_id, day, conversation_id, agent_id) DO UPDATE SET
    total_tokens = conversation_daily.total_tokens + excluded.total_tokens,
    cost = conversation_daily.cost + excluded.cost,
    message_count = conversation_daily.message_count + excluded.message_count
