-- The costliest conversations lying wholly inside the period, whole (agent_id '') or one agent's
-- part of them (ties: tokens, then id in code point order, as services/billing.py sorts them,
-- whatever the database's collation).
-- param org_id: int
-- param agent_id: text
-- param start: utc
-- param end: utc
-- param limit: int
-- column cost: money
SELECT t.conversation_id, t.total_tokens, t.cost AS cost, t.message_count
FROM conversation_totals t
WHERE t.organization_id = :org_id AND t.agent_id = :agent_id
  AND t.first_ts >= :start AND t.first_ts < :end AND t.last_ts < :end
ORDER BY t.cost DESC, t.total_tokens DESC, t.conversation_id COLLATE "C"
LIMIT :limit
