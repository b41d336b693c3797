-- The in-period part of the given conversations, per agent: whole days of the organization's
-- zone from the daily aggregates, the partial edge days from the events.
-- param org_id: int
-- param ids: list
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- column cost: money
SELECT u.conversation_id, u.agent_id,
       SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost, SUM(u.message_count) AS message_count
FROM (
    SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
    FROM conversation_daily d
    WHERE d.organization_id = :org_id AND d.conversation_id IN :ids
      AND d.day >= :day_from AND d.day <= :day_to
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start AND e.conversation_id IN :ids
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end AND e.conversation_id IN :ids
) u
GROUP BY u.conversation_id, u.agent_id
