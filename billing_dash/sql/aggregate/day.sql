-- Add the events just stored to the per-day totals (days of the organization's zone).
INSERT INTO usage_day (organization_id, day, {usage_sums})
SELECT d.organization_id, d.day, {usage_sums_added_up:d}
FROM new_usage_days d
WHERE true
GROUP BY d.organization_id, d.day
ORDER BY d.organization_id, d.day
ON CONFLICT (organization_id, day) DO UPDATE SET
    {usage_sums_added:usage_day}
