-- How many conversations the organization (agent_id '') or one agent has: each counted once, on
-- the day of its first message.
-- param org_id: int
-- param agent_id: text
SELECT COALESCE(SUM(s.started), 0) AS conversations
FROM conversation_starts s
WHERE s.organization_id = :org_id AND s.agent_id = :agent_id
