-- The organization's agents and their display names.
-- param org_id: int
SELECT a.id AS agent_id, a.name AS agent_name
FROM agents a
WHERE a.organization_id = :org_id
