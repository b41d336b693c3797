-- Add the events just stored (temporary table new_usage) to the quarter-hour aggregates.
INSERT INTO usage_quarter (organization_id, bucket, prompt_tokens, completion_tokens, cost, message_count, unpriced_count)
SELECT n.organization_id, quarter_start(n.ts), SUM(n.prompt_tokens), SUM(n.completion_tokens), SUM(n.cost),
       COUNT(*), SUM(CASE WHEN n.priced THEN 0 ELSE 1 END)
FROM new_usage n
WHERE true
GROUP BY n.organization_id, quarter_start(n.ts)
ORDER BY n.organization_id, quarter_start(n.ts)
ON CONFLICT (organization_id, bucket) DO UPDATE SET
    prompt_tokens = usage_quarter.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = usage_quarter.completion_tokens + excluded.completion_tokens,
    cost = usage_quarter.cost + excluded.cost,
    message_count = usage_quarter.message_count + excluded.message_count,
    unpriced_count = usage_quarter.unpriced_count + excluded.unpriced_count
