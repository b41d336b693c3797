-- Usage per value of one pre-aggregated tag key (:group_key) in the period: whole days of the
-- organization's zone from tag_daily (of the kept agents and models) or, of all agents and
-- models, whole months (:month_from up to :month_end) from tag_month and the other days from
-- tag_day; edge days from the events carrying the key. Filtered as
-- by_agent_model; a tag filter is of the grouped key (web/api.py refuses another). The usage
-- without the key is the report's total minus these (services.billing.usage_by_tag). Each branch
-- sums its own rows: PostgreSQL does not push a GROUP BY below a UNION, and passing a year's
-- 270,000 tag_daily rows through one took three times as long as summing them.
-- param org_id: int
-- param group_key: text
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
SELECT u.tag_value, {usage_sums_summed:u}
FROM (
    SELECT t.tag_value, {usage_sums_added_up_as:t}
    FROM tag_month t
    WHERE :all_agents = 1 AND :all_models = 1
      AND t.organization_id = :org_id AND t.tag_key = :group_key AND t.month >= :month_from AND t.month < :month_end
      AND (:all_tags = 1 OR t.tag_value IN :tag_values)
    GROUP BY t.tag_value
    UNION ALL
    SELECT t.tag_value, {usage_sums_added_up_as:t}
    FROM tag_day t
    WHERE :all_agents = 1 AND :all_models = 1
      AND t.organization_id = :org_id AND t.tag_key = :group_key
      AND (t.day >= :day_from AND t.day < :month_from OR t.day >= :month_end AND t.day <= :day_to)
      AND (:all_tags = 1 OR t.tag_value IN :tag_values)
    GROUP BY t.tag_value
    UNION ALL
    SELECT t.tag_value, {usage_sums_added_up_as:t}
    FROM tag_daily t
    WHERE NOT (:all_agents = 1 AND :all_models = 1)
      AND t.organization_id = :org_id AND t.tag_key = :group_key AND t.day >= :day_from AND t.day <= :day_to
      AND (:all_tags = 1 OR t.tag_value IN :tag_values)
      AND (:all_agents = 1 OR t.agent_id IN :agents) AND (:all_models = 1 OR t.model IN :models)
    GROUP BY t.tag_value
    UNION ALL
    SELECT tag_value(e.tags, :group_key), {usage_sums_from_events:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :start AND e.ts < :full_start
      AND tag_value(e.tags, :group_key) IS NOT NULL
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
    GROUP BY tag_value(e.tags, :group_key)
    UNION ALL
    SELECT tag_value(e.tags, :group_key), {usage_sums_from_events:e}
    FROM usage_events e
    WHERE e.organization_id = :org_id AND e.ts >= :full_end AND e.ts < :end
      AND tag_value(e.tags, :group_key) IS NOT NULL
      AND (:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)
      AND (:all_agents = 1 OR e.agent_id IN :agents) AND (:all_models = 1 OR e.model IN :models)
    GROUP BY tag_value(e.tags, :group_key)
) u
GROUP BY u.tag_value
