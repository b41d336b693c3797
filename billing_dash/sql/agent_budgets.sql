-- Tokens each agent with a monthly token budget used in the current calendar month of the
-- organization's zone, by name and id in code point order whatever the database's collation.
-- A report's filter keeps the budgets of its agents and counts the tokens of its models and of
-- its tag values (from tag_daily).
-- param day_from: date
-- param day_to: date
-- param org_id: int
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
-- param all_tags: int
-- param tag_key: text
-- param tag_values: list
SELECT a.id AS agent_id,
       a.name AS agent_name,
       b.limit_tokens AS monthly_token_budget,
       COALESCE(SUM(d.prompt_tokens + d.completion_tokens), 0) AS month_tokens
FROM budgets b
JOIN agents a ON a.organization_id = b.organization_id AND a.id = b.scope_id
LEFT JOIN (
    SELECT u.agent_id, u.model, u.day, u.prompt_tokens, u.completion_tokens
    FROM usage_daily u
    WHERE :all_tags = 1 AND u.organization_id = :org_id AND u.day >= :day_from AND u.day <= :day_to
    UNION ALL
    SELECT t.agent_id, t.model, t.day, t.prompt_tokens, t.completion_tokens
    FROM tag_daily t
    WHERE :all_tags = 0 AND t.organization_id = :org_id AND t.tag_key = :tag_key AND t.tag_value IN :tag_values
      AND t.day >= :day_from AND t.day <= :day_to
) d
       ON d.agent_id = a.id
      AND (:all_models = 1 OR d.model IN :models)
WHERE b.organization_id = :org_id
  AND (:all_agents = 1 OR a.id IN :agents)
  AND b.scope = 'agent' AND b.period = 'month'
  AND b.limit_tokens IS NOT NULL
GROUP BY a.id, a.name, b.limit_tokens
ORDER BY a.name COLLATE "C", a.id COLLATE "C"
