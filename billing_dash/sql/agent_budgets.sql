-- Tokens each agent with a monthly token budget used in the current calendar month of the
-- organization's zone, by name and id in code point order whatever the database's collation.
-- A report's filter keeps the budgets of its agents and counts the tokens of its models.
-- param day_from: date
-- param day_to: date
-- param org_id: int
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
SELECT a.id AS agent_id,
       a.name AS agent_name,
       b.limit_tokens AS monthly_token_budget,
       COALESCE(SUM(d.prompt_tokens + d.completion_tokens), 0) AS month_tokens
FROM budgets b
JOIN agents a ON a.organization_id = b.organization_id AND a.id = b.scope_id
LEFT JOIN usage_daily d
       ON d.organization_id = a.organization_id AND d.agent_id = a.id
      AND d.day >= :day_from AND d.day <= :day_to
      AND (:all_models = 1 OR d.model IN :models)
WHERE b.organization_id = :org_id
  AND (:all_agents = 1 OR a.id IN :agents)
  AND b.scope = 'agent' AND b.period = 'month'
  AND b.limit_tokens IS NOT NULL
GROUP BY a.id, a.name, b.limit_tokens
ORDER BY a.name COLLATE "C", a.id COLLATE "C"
