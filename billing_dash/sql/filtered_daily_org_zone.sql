-- Filtered usage per day of the organization's own zone: usage_daily keeps each day per agent and
-- model, tag_daily each day per tag value, agent and model, tag_day per tag value only, so a filter
-- of agents, models and one tag key's values sums the day's rows it keeps (no event is read). One
-- branch runs, chosen by the filter, and sums its rows itself (see tag_groups.sql).
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
-- param all_tags: int
-- param tag_key: text
-- param tag_values: list
SELECT d.day, {usage_sums_summed:d}
FROM (
    SELECT u.day, {usage_sums_added_up_as:u}
    FROM usage_daily u
    WHERE :all_tags = 1 AND u.organization_id = :org_id AND u.day >= :day_from AND u.day <= :day_to
      AND (:all_agents = 1 OR u.agent_id IN :agents) AND (:all_models = 1 OR u.model IN :models)
    GROUP BY u.day
    UNION ALL
    SELECT t.day, {usage_sums_added_up_as:t}
    FROM tag_day t
    WHERE :all_tags = 0 AND :all_agents = 1 AND :all_models = 1
      AND t.organization_id = :org_id AND t.tag_key = :tag_key AND t.tag_value IN :tag_values
      AND t.day >= :day_from AND t.day <= :day_to
    GROUP BY t.day
    UNION ALL
    SELECT t.day, {usage_sums_added_up_as:t}
    FROM tag_daily t
    WHERE :all_tags = 0 AND NOT (:all_agents = 1 AND :all_models = 1)
      AND t.organization_id = :org_id AND t.tag_key = :tag_key AND t.tag_value IN :tag_values
      AND t.day >= :day_from AND t.day <= :day_to
      AND (:all_agents = 1 OR t.agent_id IN :agents) AND (:all_models = 1 OR t.model IN :models)
    GROUP BY t.day
) d
GROUP BY d.day
