-- Add the events just stored to the per-day totals (days of the organization's zone).
-- param tz: text
INSERT INTO usage_day (organization_id, day, prompt_tokens, completion_tokens, cost, message_count, unpriced_count)
SELECT n.organization_id, local_date(n.ts, :tz), SUM(n.prompt_tokens), SUM(n.completion_tokens), SUM(n.cost),
       COUNT(*), SUM(CASE WHEN n.priced THEN 0 ELSE 1 END)
FROM new_usage n
WHERE true
GROUP BY n.organization_id, local_date(n.ts, :tz)
ORDER BY n.organization_id, local_date(n.ts, :tz)
ON CONFLICT (organization_id, day) DO UPDATE SET
    prompt_tokens = usage_day.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_day.completion_tokens + excluded.completion_tokens,
    cost = usage_day.cost + excluded.cost,
    message_count = usage_day.message_count + excluded.message_count,
    unpriced_count = usage_day.unpriced_count + excluded.unpriced_count
