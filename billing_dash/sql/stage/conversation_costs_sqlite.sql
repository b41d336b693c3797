-- Stored totals of the given whole conversations, as stored (integers of 1e-10 dollars).
-- param org_id: int
-- param ids: list
-- column cost: stored
SELECT conversation_id, cost FROM conversation_totals
WHERE organization_id = :org_id AND agent_id = '' AND conversation_id IN :ids
