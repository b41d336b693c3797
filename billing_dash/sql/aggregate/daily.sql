-- Add the events just stored to the per-day (in the organization's zone), agent and model aggregates.
-- param tz: text
INSERT INTO usage_daily (organization_id, day, agent_id, model, {usage_sums})
SELECT n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model, {usage_sums_from_events:n}
FROM new_usage n
WHERE true
GROUP BY n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model
ORDER BY n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model
ON CONFLICT (organization_id, day, agent_id, model) DO UPDATE SET
    {usage_sums_added:usage_daily}
