-- Group the staged events by local day (of the organization's zone), agent and model, once: the
-- day, agent and model aggregates and the import's counts are sums of these rows.
-- param tz: text
INSERT INTO new_usage_days (organization_id, day, agent_id, model, {usage_sums})
SELECT n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model, {usage_sums_from_events:n}
FROM new_usage n
GROUP BY n.organization_id, local_date(n.ts, :tz), n.agent_id, n.model
