-- Usage per agent and model in the period: a row per pair used (at most agents x models), which
-- the report sums per agent and per model, so the daily aggregates are read once. Whole days of
-- the organization's zone come from the aggregates (whole months, :month_from up to :month_end,
-- from usage_monthly, the other days from usage_daily), edge days from the events. The filter
-- (services/billing.py, filters.Filters.params) keeps the pairs of the given agents and models;
-- a tag filter reads tag_daily instead of usage_daily, and the edge events that carry its values.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param month_from: date
-- param month_end: date
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
SELECT u.agent_id, u.model, {usage_sums_summed:u}
FROM (
    SELECT m.agent_id, m.model, {usage_sums_of:m}
    FROM usage_monthly m
    WHERE :all_tags = 1 AND m.organization_id = :org_id AND m.month >= :month_from AND m.month < :month_end
    UNION ALL
    SELECT d.agent_id, d.model, {usage_sums_of:d}
    FROM usage_daily d
    WHERE :all_tags = 1 AND d.organization_id = :org_id
      AND (d.day >= :day_from AND d.day < :month_from OR d.day >= :month_end AND d.day <= :day_to)
    UNION ALL
    SELECT t.agent_id, t.model, {usage_sums_of:t}
    FROM tag_daily t
    WHERE :all_tags = 0 AND t.organization_id = :org_id AND t.tag_key = :tag_key AND t.tag_value IN :tag_values
      AND t.day >= :day_from AND t.day <= :day_to
    UNION ALL
    SELECT e.agent_id, e.model, {usage_sums_of_event:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
    UNION ALL
    SELECT e.agent_id, e.model, {usage_sums_of_event:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
) u
WHERE (:all_agents = 1 OR u.agent_id IN :agents) AND (:all_models = 1 OR u.model IN :models)
GROUP BY u.agent_id, u.model
