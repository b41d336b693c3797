-- Cost of each agent and model of an organization per local day of its zone (days without usage
-- absent), from the daily aggregate: the anomaly alerts' days and their 28-day baselines.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- column day: date
-- column cost: money
SELECT d.day, d.agent_id, d.model, SUM(d.cost) AS cost
FROM usage_daily d
WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
GROUP BY d.day, d.agent_id, d.model
