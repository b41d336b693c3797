-- Usage per agent in the period, costliest first.
SELECT e.agent_id,
       COALESCE(a.name, e.agent_id) AS agent_name,
       a.monthly_token_budget,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       COUNT(DISTINCT e.conversation_id) AS conversation_count
FROM usage_events e
LEFT JOIN agents a ON a.organization_id = e.organization_id AND a.id = e.agent_id
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.agent_id, a.name, a.monthly_token_budget
ORDER BY cost DESC, total_tokens DESC, e.agent_id
