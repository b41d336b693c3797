-- Usage per agent and model in the period: a row per pair used (at most agents x models), which
-- the report sums per agent and per model, so the daily aggregates are read once. Whole days of
-- the organization's zone come from the aggregates, edge days from the events.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- column cost: money
SELECT u.agent_id,
       u.model,
       SUM(u.total_tokens) AS total_tokens,
       SUM(u.cost) AS cost,
       SUM(u.message_count) AS message_count,
       SUM(u.unpriced_count) AS unpriced_count
FROM (
    SELECT d.agent_id, d.model, d.prompt_tokens + d.completion_tokens AS total_tokens, d.cost, d.message_count,
           d.unpriced_count
    FROM usage_daily d
    WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
    UNION ALL
    SELECT e.agent_id, e.model, e.prompt_tokens + e.completion_tokens, e.cost, 1, CASE WHEN e.priced THEN 0 ELSE 1 END
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
    UNION ALL
    SELECT e.agent_id, e.model, e.prompt_tokens + e.completion_tokens, e.cost, 1, CASE WHEN e.priced THEN 0 ELSE 1 END
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
) u
GROUP BY u.agent_id, u.model
