-- The organization's agents: display name and monthly token budget.
-- param org_id: int
SELECT a.id AS agent_id, a.name AS agent_name, a.monthly_token_budget
FROM agents a
WHERE a.organization_id = :org_id
