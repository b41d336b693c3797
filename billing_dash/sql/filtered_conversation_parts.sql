-- The filtered usage of each conversation per agent in the period: whole days of the organization's
-- zone from conversation_daily (kept per conversation, agent and model), the partial edge days from
-- the events; no scan of the period's events.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param start: utc
-- param full_start: utc
-- param full_end: utc
-- param end: utc
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
-- column cost: money
SELECT u.conversation_id, u.agent_id, SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost,
       SUM(u.message_count) AS message_count
FROM (
    SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
    FROM conversation_daily d
    WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
      AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
) u
GROUP BY u.conversation_id, u.agent_id
