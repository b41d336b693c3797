-- Add the events just stored to the per-day totals (days of the organization's zone).
-- param tz: text
INSERT INTO usage_day (organization_id, day, {usage_sums})
SELECT n.organization_id, local_date(n.ts, :tz), {usage_sums_from_events:n}
FROM new_usage n
WHERE true
GROUP BY n.organization_id, local_date(n.ts, :tz)
ORDER BY n.organization_id, local_date(n.ts, :tz)
ON CONFLICT (organization_id, day) DO UPDATE SET
    {usage_sums_added:usage_day}
