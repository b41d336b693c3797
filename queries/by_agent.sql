-- Usage per agent in the period, costliest first, with its distinct conversations.
-- Whole days of the organization's zone come from the aggregates, edge days from the events.
WITH spend AS (
    SELECT u.agent_id, SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost,
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
    GROUP BY u.agent_id
),
talks AS (
    SELECT t.agent_id, COUNT(DISTINCT t.conversation_id) AS conversation_count
    FROM (
        SELECT c.agent_id, c.conversation_id FROM conversation_daily c
        WHERE c.organization_id = :org_id AND c.day >= :day_from AND c.day <= :day_to
        UNION ALL
        SELECT e.agent_id, e.conversation_id FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
        UNION ALL
        SELECT e.agent_id, e.conversation_id FROM usage_events e
        WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
    ) t
    GROUP BY t.agent_id
)
SELECT spend.agent_id,
       COALESCE(a.name, spend.agent_id) AS agent_name,
       a.monthly_token_budget,
       spend.total_tokens,
       spend.cost AS cost,
       spend.message_count,
       talks.conversation_count
FROM spend
JOIN talks ON talks.agent_id = spend.agent_id
LEFT JOIN agents a ON a.organization_id = :org_id AND a.id = spend.agent_id
ORDER BY spend.cost DESC, spend.total_tokens DESC, spend.agent_id
