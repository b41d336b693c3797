-- The costliest conversations of the period, ties broken by tokens, then by id for a stable order.
-- Whole days of the organization's zone come from the aggregates, edge days from the events.
SELECT u.conversation_id,
       COALESCE(c.title, u.conversation_id) AS title,
       c.agent_id,
       SUM(u.total_tokens) AS total_tokens,
       SUM(u.cost) AS cost,
       SUM(u.message_count) AS message_count
FROM (
    SELECT d.conversation_id, d.total_tokens, d.cost, d.message_count
    FROM conversation_daily d
    WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
    UNION ALL
    SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
    UNION ALL
    SELECT e.conversation_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
) u
LEFT JOIN conversations c ON c.organization_id = :org_id AND c.id = u.conversation_id
GROUP BY u.conversation_id, c.title, c.agent_id
ORDER BY cost DESC, total_tokens DESC, u.conversation_id
LIMIT :limit
