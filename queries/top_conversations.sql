-- The costliest conversations of the period, ties broken by tokens, then by id for a stable order.
SELECT e.conversation_id,
       COALESCE(c.title, e.conversation_id) AS title,
       c.agent_id,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count
FROM usage_events e
LEFT JOIN conversations c ON c.organization_id = e.organization_id AND c.id = e.conversation_id
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.conversation_id, c.title, c.agent_id
ORDER BY cost DESC, total_tokens DESC, e.conversation_id
LIMIT :limit
