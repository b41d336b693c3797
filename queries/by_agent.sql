-- Usage per agent in the period, costliest first. Whole days of the organization's zone come
-- from the aggregates, edge days from the events.
SELECT u.agent_id,
       COALESCE(a.name, u.agent_id) AS agent_name,
       a.monthly_token_budget,
       SUM(u.total_tokens) AS total_tokens,
       SUM(u.cost) AS cost,
       SUM(u.message_count) AS message_count
FROM (
    SELECT d.agent_id, d.prompt_tokens + d.completion_tokens AS total_tokens, d.cost, d.message_count
    FROM usage_daily d
    WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
    UNION ALL
    SELECT e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
    UNION ALL
    SELECT e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
) u
LEFT JOIN agents a ON a.organization_id = :org_id AND a.id = u.agent_id
GROUP BY u.agent_id, a.name, a.monthly_token_budget
ORDER BY cost DESC, total_tokens DESC, u.agent_id
