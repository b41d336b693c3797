-- Add the events just stored to the per tag value and month (of the organization's zone) totals.
INSERT INTO tag_month (organization_id, tag_key, tag_value, month, {usage_sums})
SELECT d.organization_id, d.tag_key, d.tag_value, month_start(d.day), {usage_sums_added_up:d}
FROM new_tag_days d
WHERE true
GROUP BY d.organization_id, d.tag_key, d.tag_value, month_start(d.day)
ORDER BY d.organization_id, d.tag_key, d.tag_value, month_start(d.day)
ON CONFLICT (organization_id, tag_key, tag_value, month) DO UPDATE SET
    {usage_sums_added:tag_month}
