-- Add the events just stored to the per tag value, day (of the organization's zone), agent and model aggregates.
INSERT INTO tag_daily (organization_id, tag_key, tag_value, day, agent_id, model, {usage_sums})
SELECT d.organization_id, d.tag_key, d.tag_value, d.day, d.agent_id, d.model, {usage_sums_added_up:d}
FROM new_tag_days d
WHERE true
GROUP BY d.organization_id, d.tag_key, d.tag_value, d.day, d.agent_id, d.model
ORDER BY d.organization_id, d.tag_key, d.tag_value, d.day, d.agent_id, d.model
ON CONFLICT (organization_id, tag_key, tag_value, day, agent_id, model) DO UPDATE SET
    {usage_sums_added:tag_daily}
