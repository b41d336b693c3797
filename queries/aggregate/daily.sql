-- Add the events just stored to the per-day (in the organization's zone), agent and model aggregates.
-- param tz: text
INSERT INTO usage_daily (organization_id, day, agent_id, model, prompt_tokens, completion_tokens, cost,
                         message_count, unpriced_count)
SELECT n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model, SUM(n.prompt_tokens),
       SUM(n.completion_tokens), SUM(n.cost), COUNT(*), SUM(CASE WHEN n.priced THEN 0 ELSE 1 END)
FROM new_usage n
WHERE true
GROUP BY n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model
ORDER BY n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model
ON CONFLICT (organization_id, day, agent_id, model) DO UPDATE SET
    prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
    cost = usage_daily.cost + excluded.cost,
    message_count = usage_daily.message_count + excluded.message_count,
    unpriced_count = usage_daily.unpriced_count + excluded.unpriced_count
