-- Usage of each budget of an organization per local day of its zone (days without usage absent),
-- from the daily aggregate. A day's sum is at most the organization's day, which the ingest
-- keeps within SQLite's 64-bit integers, so no exact-sum fallback is needed here.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- column day: date
-- column cost: money
SELECT b.id AS budget_id,
       d.day,
       SUM(d.prompt_tokens + d.completion_tokens) AS tokens,
       SUM(d.cost) AS cost
FROM budgets b
JOIN usage_daily d
  ON d.organization_id = b.organization_id
 AND (b.scope = 'organization'
      OR (b.scope = 'agent' AND d.agent_id = b.scope_id)
      OR (b.scope = 'model' AND d.model = b.scope_id))
WHERE b.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
GROUP BY b.id, d.day
