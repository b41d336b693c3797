-- How many conversations the organization has: each counted once, on the day of its first message.
-- param org_id: int
SELECT COALESCE(SUM(s.started), 0) AS conversations
FROM conversation_starts s
WHERE s.organization_id = :org_id AND s.agent_id = ''
