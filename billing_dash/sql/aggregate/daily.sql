-- Add the events just stored to the per-day (in the organization's zone), agent and model aggregates.
INSERT INTO usage_daily (organization_id, day, agent_id, model, {usage_sums})
SELECT d.organization_id, d.day, d.agent_id, d.model, {usage_sums_copied:d}
FROM new_usage_days d
WHERE true
ORDER BY d.organization_id, d.day, d.agent_id, d.model
ON CONFLICT (organization_id, day, agent_id, model) DO UPDATE SET
    {usage_sums_added:usage_daily}
