-- Filtered usage per quarter hour (UTC) from the events: usage_quarter keeps no agent or model, so
-- a filtered report in another zone than the organization's, or by the hour, reads the period's
-- events (a range of ix_usage_events_org_ts) and buckets their quarter hours by local day or hour.
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
SELECT quarter_start(e.ts) AS bucket, {usage_sums_summed:e}
FROM (
    SELECT e.ts, {usage_sums_of_event:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :end
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
) e
GROUP BY quarter_start(e.ts)
