-- The filtered usage of each conversation per agent in the period, from the events: the
-- conversation aggregates keep no model (see README, "Filters"), so a filtered report sums the
-- period's events of the kept agents and models (a range of ix_usage_events_org_ts).
-- param org_id: int
-- param start: utc
-- param end: utc
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
-- param all_tags: int
-- param tag_key: text
-- param tag_values: list
-- column cost: money
SELECT e.conversation_id, e.agent_id, SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost, COUNT(*) AS message_count
FROM usage_events e
WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :end
  AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
GROUP BY e.conversation_id, e.agent_id
