-- The organization's agents and their display names.
SELECT a.id AS agent_id, a.name AS agent_name
FROM agents a
WHERE a.organization_id = :org_id
