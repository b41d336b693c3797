-- Usage per day of the organization's own zone, agent and model (of the kept pairs and tag values):
-- the rows of usage_daily, or of tag_daily with a tag filter, which a stacked series sums per
-- bucket and agent or model.
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
SELECT d.day, d.agent_id, d.model, {usage_sums_of:d}
FROM (
    SELECT u.day, u.agent_id, u.model, {usage_sums_of:u}
    FROM usage_daily u
    WHERE :all_tags = 1 AND u.organization_id = :org_id AND u.day >= :day_from AND u.day <= :day_to
    UNION ALL
    SELECT t.day, t.agent_id, t.model, {usage_sums_of:t}
    FROM tag_daily t
    WHERE :all_tags = 0 AND t.organization_id = :org_id AND t.tag_key = :tag_key AND t.tag_value IN :tag_values
      AND t.day >= :day_from AND t.day <= :day_to
) d
WHERE (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
