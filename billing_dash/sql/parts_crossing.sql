-- Conversation parts of one model or tag value with messages both inside and outside the period,
-- found as conversations_crossing.sql finds whole conversations (a part spans at most its
-- conversation's span).
-- param org_id: int
-- param dimension: text
-- param value: text
-- param span_start: utc
-- param start: utc
-- param end_span_start: utc
-- param end: utc
SELECT p.conversation_id, p.agent_id
FROM conversation_parts p
WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value
  AND p.first_ts >= :span_start AND p.first_ts < :start AND p.last_ts >= :start
UNION
SELECT p.conversation_id, p.agent_id
FROM conversation_parts p
WHERE p.organization_id = :org_id AND p.dimension = :dimension AND p.value = :value
  AND p.first_ts >= :end_span_start AND p.first_ts < :end AND p.last_ts >= :end
