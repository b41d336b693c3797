-- Add the events just stored to the per tag value and day (of the organization's zone) totals.
INSERT INTO tag_day (organization_id, tag_key, tag_value, day, {usage_sums})
SELECT d.organization_id, d.tag_key, d.tag_value, d.day, {usage_sums_added_up:d}
FROM new_tag_days d
WHERE true
GROUP BY d.organization_id, d.tag_key, d.tag_value, d.day
ORDER BY d.organization_id, d.tag_key, d.tag_value, d.day
ON CONFLICT (organization_id, tag_key, tag_value, day) DO UPDATE SET
    {usage_sums_added:tag_day}
