-- Titles and agents of the given conversations.
-- param org_id: int
-- param ids: list
SELECT c.id AS conversation_id, c.title, c.agent_id
FROM conversations c
WHERE c.organization_id = :org_id AND c.id IN :ids
