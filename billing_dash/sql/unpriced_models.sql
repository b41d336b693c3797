-- Models of a period's events that had no price, with their messages and tokens. Reads only
-- unpriced events (the partial index ix_usage_events_unpriced), and runs only when the
-- aggregates count some in the period (of the filtered agents and models).
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
SELECT e.model, COUNT(*) AS message_count, SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens
FROM usage_events e
WHERE e.organization_id = :org_id AND NOT e.priced
  AND e.ts >= :start AND e.ts < :end
  AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
GROUP BY e.model
