-- The in-period part of the given conversations, per agent, of the filter's agents, models and tag
-- values (services/billing.py, filters.Filters.params; all of them unfiltered): whole days of the
-- organization's zone from the daily aggregates (with a tag filter tag_conversation_daily), the
-- partial edge days from the events.
-- param org_id: int
-- param ids: list
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
-- param all_tags: int
-- param tag_key: text
-- param tag_values: list
-- column cost: money
SELECT u.conversation_id, u.agent_id,
       SUM(u.total_tokens) AS total_tokens, SUM(u.cost) AS cost, SUM(u.message_count) AS message_count
FROM (
    SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
    FROM conversation_daily d
    WHERE :all_tags = 1 AND d.organization_id = :org_id AND d.conversation_id IN :ids
      AND d.day >= :day_from AND d.day <= :day_to
      AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
    UNION ALL
    SELECT d.conversation_id, d.agent_id, d.total_tokens, d.cost, d.message_count
    FROM tag_conversation_daily d
    WHERE :all_tags = 0 AND d.organization_id = :org_id AND d.tag_key = :tag_key AND d.tag_value IN :tag_values
      AND d.conversation_id IN :ids AND d.day >= :day_from AND d.day <= :day_to
      AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start AND e.conversation_id IN :ids
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
    UNION ALL
    SELECT e.conversation_id, e.agent_id, e.prompt_tokens + e.completion_tokens, e.cost, 1
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end AND e.conversation_id IN :ids
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
) u
GROUP BY u.conversation_id, u.agent_id
