-- Tokens each budgeted agent used in the current calendar month, against its monthly budget.
SELECT a.id AS agent_id,
       a.name AS agent_name,
       a.monthly_token_budget,
       COALESCE(SUM(e.prompt_tokens + e.completion_tokens), 0) AS month_tokens
FROM agents a
LEFT JOIN usage_events e
       ON e.organization_id = a.organization_id AND e.agent_id = a.id
      AND e.ts >= :start AND e.ts < :end
WHERE a.organization_id = :org_id
  AND a.monthly_token_budget IS NOT NULL
GROUP BY a.id, a.name, a.monthly_token_budget
ORDER BY a.name, a.id
