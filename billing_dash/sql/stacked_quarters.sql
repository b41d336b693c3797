-- Usage per quarter hour (UTC), agent and model from the events (of the kept pairs and tag values):
-- for a stacked series by the hour or in another zone than the organization's (usage_quarter keeps
-- neither).
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
-- column bucket: utc
SELECT quarter_start(e.ts) AS bucket, e.agent_id, e.model, {usage_sums_summed:e}
FROM (
    SELECT e.ts, e.agent_id, e.model, {usage_sums_of_event:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :end
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
) e
GROUP BY quarter_start(e.ts), e.agent_id, e.model
