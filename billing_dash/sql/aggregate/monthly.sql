-- Add the events just stored to the per-month (of the organization's zone), agent and model aggregates.
INSERT INTO usage_monthly (organization_id, month, agent_id, model, {usage_sums})
SELECT d.organization_id, month_start(d.day), d.agent_id, d.model, {usage_sums_added_up:d}
FROM new_usage_days d
WHERE true
GROUP BY d.organization_id, month_start(d.day), d.agent_id, d.model
ORDER BY d.organization_id, month_start(d.day), d.agent_id, d.model
ON CONFLICT (organization_id, month, agent_id, model) DO UPDATE SET
    {usage_sums_added:usage_monthly}
