-- The costliest conversation parts of one model or tag value, of all agents (agent_id '') or one,
-- lying wholly inside the period (ties as top_conversations.sql).
-- param org_id: int
-- param dimension: text
-- param value: text
-- param agent_id: text
-- param start: utc
-- param end: utc
-- param limit: int
-- column cost: money
SELECT p.conversation_id, p.total_tokens, p.cost AS cost, p.message_count
FROM conversation_parts p
WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value AND p.agent_id = :agent_id
  AND p.first_ts >= :start AND p.first_ts < :end AND p.last_ts < :end
ORDER BY p.cost DESC, p.total_tokens DESC, p.conversation_id COLLATE "C"
LIMIT :limit
