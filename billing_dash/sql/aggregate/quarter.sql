-- Add the events just stored (temporary table new_usage) to the quarter-hour aggregates.
INSERT INTO usage_quarter (organization_id, bucket, {usage_sums})
SELECT n.organization_id, quarter_start(n.ts), {usage_sums_from_events:n}
FROM new_usage n
WHERE true
GROUP BY n.organization_id, quarter_start(n.ts)
ORDER BY n.organization_id, quarter_start(n.ts)
ON CONFLICT (organization_id, bucket) DO UPDATE SET
    {usage_sums_added:usage_quarter}
