-- Titles and agents of the given conversations.
SELECT c.id AS conversation_id, c.title, c.agent_id
FROM conversations c
WHERE c.organization_id = :org_id AND c.id IN :ids
