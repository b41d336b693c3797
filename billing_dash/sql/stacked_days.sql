-- Usage per day of the organization's own zone, agent and model (of the kept pairs): the rows of
-- usage_daily as they are, which a stacked series sums per bucket and agent or model.
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
SELECT d.day, d.agent_id, d.model, {usage_sums_of:d}
FROM usage_daily d
WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
  AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
