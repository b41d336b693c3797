-- Filtered usage per day of the organization's own zone: usage_daily keeps each day per agent and
-- model, so a filter of agents and models sums the day's rows it keeps (no event is read).
-- param org_id: int
-- param day_from: date
-- param day_to: date
-- param all_agents: int
-- param agents: list
-- param all_models: int
-- param models: list
SELECT d.day, {usage_sums_summed:d}
FROM usage_daily d
WHERE d.organization_id = :org_id AND d.day >= :day_from AND d.day <= :day_to
  AND (:all_agents = 1 OR d.agent_id IN :agents) AND (:all_models = 1 OR d.model IN :models)
GROUP BY d.day
